package forum

import (
	"net/http"
	"strconv"

	"verbund/internal/db"
	"verbund/internal/web"
)

func (h *Handler) apiChannels(w http.ResponseWriter, r *http.Request) error {
	cs, err := h.svc.FindChannels(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	web.WriteList(w, cs, "")
	return nil
}

func (h *Handler) apiCreateChannel(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Community   string `json:"community_id"`
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	c, err := h.svc.CreateChannel(r.Context(), web.ActorFrom(r), in.Community, in.Name, in.Description)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, c)
	return nil
}

func (h *Handler) apiThreads(w http.ResponseWriter, r *http.Request) error {
	limit, err := web.Limit(r, 100, 200)
	if err != nil {
		return err
	}
	ts, next, err := h.svc.FindThreads(r.Context(), web.ActorFrom(r), r.PathValue("id"), r.URL.Query().Get("next"), limit)
	if err != nil {
		return err
	}
	web.WriteList(w, ts, next)
	return nil
}

func (h *Handler) apiCreateThread(w http.ResponseWriter, r *http.Request) error {
	var in NewThread
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	t, p, err := h.svc.CreateThread(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, map[string]any{"thread": t, "post": p})
	return nil
}

func (h *Handler) apiThread(w http.ResponseWriter, r *http.Request) error {
	t, err := h.svc.FindThreadByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, t)
	return nil
}

func (h *Handler) listPosts(w http.ResponseWriter, r *http.Request, f ListFilter) error {
	limit, err := web.Limit(r, 50, 200)
	if err != nil {
		return err
	}
	f.Limit, f.After = limit, r.URL.Query().Get("next")
	a := web.ActorFrom(r)
	if f.Query != "" || h.pages == nil {
		ps, next, err := h.svc.FindPosts(r.Context(), a, f)
		if err != nil {
			return err
		}
		web.WriteList(w, ps, next)
		return nil
	}
	// Pages without a search are served from the read cache while the
	// database and the agreements' validity have not changed (see
	// internal/readcache for why that is safe).
	ctx := r.Context()
	// A thread's pages change with the thread; the feed with any post.
	tags := []string{"feed"}
	if f.Thread != "" {
		tags = []string{"thread:" + f.Thread}
	}
	body, err := h.pages.Page(ctx, a, db.Now(), []string{"posts", f.Thread, f.After, strconv.Itoa(f.Limit)}, tags, func() ([]byte, error) {
		ps, next, err := h.svc.FindPosts(ctx, a, f)
		if err != nil {
			return nil, err
		}
		return web.ListJSON(ps, next)
	})
	if err != nil {
		return err
	}
	web.WriteJSONBytes(w, http.StatusOK, body)
	return nil
}

func (h *Handler) apiThreadPosts(w http.ResponseWriter, r *http.Request) error {
	return h.listPosts(w, r, ListFilter{Thread: r.PathValue("id")})
}

func (h *Handler) apiFeed(w http.ResponseWriter, r *http.Request) error {
	return h.listPosts(w, r, ListFilter{Query: r.URL.Query().Get("q")})
}

func (h *Handler) apiReply(w http.ResponseWriter, r *http.Request) error {
	var in NewPost
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	p, err := h.svc.CreatePost(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, p)
	return nil
}

func (h *Handler) apiPost(w http.ResponseWriter, r *http.Request) error {
	p, err := h.svc.FindPostByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, p)
	return nil
}

func (h *Handler) apiEdit(w http.ResponseWriter, r *http.Request) error {
	var in PostUpdate
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	p, err := h.svc.UpdatePost(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, p)
	return nil
}

func (h *Handler) apiDelete(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.svc.DeletePost(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) apiDeleteThread(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.svc.DeleteThread(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) apiRevisions(w http.ResponseWriter, r *http.Request) error {
	rs, err := h.svc.FindRevisions(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteList(w, rs, "")
	return nil
}
