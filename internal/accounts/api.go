package accounts

import (
	"net/http"

	"verbund/internal/web"
)

func (h *Handler) apiMe(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	u, err := h.svc.FindUserByID(r.Context(), a, a.UserID)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"user": u, "scope": a.Scope})
	return nil
}

func (h *Handler) apiUpdateMe(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name *string `json:"name"`
		Lang *string `json:"lang"`
	}
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	a := web.ActorFrom(r)
	u, err := h.svc.UpdateUser(r.Context(), a, a.UserID, UserUpdate{Name: in.Name, Lang: in.Lang})
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, u)
	return nil
}

func (h *Handler) apiListUsers(w http.ResponseWriter, r *http.Request) error {
	us, err := h.svc.FindUsers(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	web.WriteList(w, us, "")
	return nil
}

func (h *Handler) apiDirectory(w http.ResponseWriter, r *http.Request) error {
	us, err := h.svc.FindPeople(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	out := make([]map[string]string, 0, len(us))
	for _, u := range us {
		out = append(out, map[string]string{"id": u.ID, "name": u.Name, "org_id": u.OrgID, "org_name": u.OrgName})
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

func (h *Handler) apiCreateUser(w http.ResponseWriter, r *http.Request) error {
	var in NewUser
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	in.OrgID = "" // the actor's org, always
	u, err := h.svc.CreateUser(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, u)
	return nil
}

func (h *Handler) apiGetUser(w http.ResponseWriter, r *http.Request) error {
	u, err := h.svc.FindUserByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, u)
	return nil
}

func (h *Handler) apiUpdateUser(w http.ResponseWriter, r *http.Request) error {
	var in UserUpdate
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	u, err := h.svc.UpdateUser(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, u)
	return nil
}

func (h *Handler) apiListTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := h.svc.FindTokens(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	web.WriteList(w, ts, "")
	return nil
}

func (h *Handler) apiCreateToken(w http.ResponseWriter, r *http.Request) error {
	var in NewToken
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	a := web.ActorFrom(r)
	t, secret, err := h.svc.CreateToken(r.Context(), a, a.UserID, in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, map[string]any{"token": t, "secret": secret})
	return nil
}

func (h *Handler) apiRevokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.RevokeToken(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) apiLogoutAll(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.LogoutAll(r.Context(), web.ActorFrom(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
