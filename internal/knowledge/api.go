package knowledge

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// maxRequest bounds the JSON of a new or changed article: MaxBody
// characters of up to four bytes each, and the rest of the fields.
const maxRequest = 4*MaxBody + 64<<10

func (h *Handler) apiList(w http.ResponseWriter, r *http.Request) error {
	limit, err := web.Limit(r, 50, 200)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	lib := q.Get("library")
	if c := q.Get("community_id"); c != "" && lib == "" {
		lib = "community:" + c
	}
	as, next, err := h.svc.FindArticles(r.Context(), web.ActorFrom(r), ListFilter{Library: lib, Kind: q.Get("kind"), Tag: q.Get("tag"), After: q.Get("next"), Limit: limit})
	if err != nil {
		return err
	}
	web.WriteList(w, as, next)
	return nil
}

func (h *Handler) apiCreate(w http.ResponseWriter, r *http.Request) error {
	var in NewArticle
	if err := web.DecodeJSONLimit(w, r, &in, maxRequest); err != nil {
		return err
	}
	ar, err := h.svc.CreateArticle(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, ar)
	return nil
}

// countRead counts an opening of an article by the reader's org; a
// failure is logged, never shown (it is bookkeeping).
func (h *Handler) countRead(r *http.Request, id string) {
	if err := h.svc.CountRead(r.Context(), web.ActorFrom(r), id); err != nil {
		log := h.srv.Log
		if log == nil {
			log = slog.Default()
		}
		log.Warn("count article read", "article", id, "err", err)
	}
}

func (h *Handler) apiGet(w http.ResponseWriter, r *http.Request) error {
	ar, err := h.svc.FindArticleByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	h.countRead(r, ar.ID)
	web.WriteJSON(w, http.StatusOK, ar)
	return nil
}

func (h *Handler) apiUpdate(w http.ResponseWriter, r *http.Request) error {
	var in ArticleUpdate
	if err := web.DecodeJSONLimit(w, r, &in, maxRequest); err != nil {
		return err
	}
	ar, err := h.svc.UpdateArticle(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, ar)
	return nil
}

func (h *Handler) apiDelete(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteArticle(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) apiVersions(w http.ResponseWriter, r *http.Request) error {
	vs, err := h.svc.FindVersions(r.Context(), web.ActorFrom(r), r.PathValue("id"), r.URL.Query().Get("body") == "1")
	if err != nil {
		return err
	}
	web.WriteList(w, vs, "")
	return nil
}

// versionPair reads ?from=&to= (versions; default: the one before the
// newest, and the newest).
func versionPair(r *http.Request, vs []Version) (Version, Version, error) {
	if len(vs) == 0 {
		return Version{}, Version{}, fault.ErrNotFound
	}
	pick := func(field string, def Version) (Version, error) {
		s := r.URL.Query().Get(field)
		if s == "" {
			return def, nil
		}
		n, err := strconv.Atoi(s)
		if err == nil {
			for _, v := range vs {
				if v.Version == n {
					return v, nil
				}
			}
		}
		return Version{}, fault.BadInput(field, "bad_version", `there is no version "{version}" of this article`).With("version", s)
	}
	newest := vs[0]
	before := newest
	if len(vs) > 1 {
		before = vs[1]
	}
	from, err := pick("from", before)
	if err != nil {
		return from, from, err
	}
	to, err := pick("to", newest)
	return from, to, err
}

// DiffResult is the difference between two versions of an article.
type DiffResult struct {
	From  int        `json:"from"`
	To    int        `json:"to"`
	Title []DiffLine `json:"title"`
	Lines []DiffLine `json:"lines"`
}

func (h *Handler) diff(r *http.Request) (DiffResult, []Version, error) {
	vs, err := h.svc.FindVersions(r.Context(), web.ActorFrom(r), r.PathValue("id"), true)
	if err != nil {
		return DiffResult{}, nil, err
	}
	from, to, err := versionPair(r, vs)
	if err != nil {
		return DiffResult{}, vs, err
	}
	return DiffResult{From: from.Version, To: to.Version, Title: Diff(from.Title, to.Title), Lines: Diff(from.Body, to.Body)}, vs, nil
}

func (h *Handler) apiDiff(w http.ResponseWriter, r *http.Request) error {
	d, _, err := h.diff(r)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, d)
	return nil
}

func (h *Handler) apiReads(w http.ResponseWriter, r *http.Request) error {
	rs, err := h.svc.FindReads(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, rs)
	return nil
}

func (h *Handler) apiComments(w http.ResponseWriter, r *http.Request) error {
	cs, err := h.svc.FindComments(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteList(w, cs, "")
	return nil
}

func (h *Handler) apiCreateComment(w http.ResponseWriter, r *http.Request) error {
	var in NewComment
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	c, err := h.svc.CreateComment(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, c)
	return nil
}

func (h *Handler) apiDeleteComment(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.svc.DeleteComment(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) apiHelpful(helpful bool) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		n, err := h.svc.SetHelpful(r.Context(), web.ActorFrom(r), r.PathValue("id"), helpful)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, map[string]any{"helpful": n, "helpful_by_me": helpful})
		return nil
	}
}

func (h *Handler) apiAttachments(w http.ResponseWriter, r *http.Request) error {
	as, err := h.svc.FindAttachments(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteList(w, as, "")
	return nil
}

// readUpload reads the file of a multipart upload (part "file") into an
// attachment of article id. A browser's form sends its CSRF token first
// (the guard has read it).
func (h *Handler) readUpload(w http.ResponseWriter, r *http.Request, id string) (Attachment, error) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxAttachment+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return Attachment{}, fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return Attachment{}, fault.BadInput("file", "attachment_missing", "choose a file to attach")
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return Attachment{}, fault.New(fault.TooLarge, "attachment_too_large", "the file is larger than {max} MB").With("max", MaxAttachment>>20)
			}
			return Attachment{}, fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
		}
		if part.FormName() != "file" {
			continue
		}
		if part.FileName() == "" {
			return Attachment{}, fault.BadInput("file", "attachment_missing", "choose a file to attach")
		}
		name := part.FileName()
		if !web.ValidText(name) {
			return Attachment{}, fault.BadInput("file", "attachment_name", "the file needs a name")
		}
		at, err := h.svc.AddAttachment(r.Context(), web.ActorFrom(r), id, name, part.Header.Get("Content-Type"), part)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return at, fault.New(fault.TooLarge, "attachment_too_large", "the file is larger than {max} MB").With("max", MaxAttachment>>20)
		}
		return at, err
	}
}

func (h *Handler) apiAttach(w http.ResponseWriter, r *http.Request) error {
	at, err := h.readUpload(w, r, r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, at)
	return nil
}

// download serves an attachment to a reader who may see its article, only
// ever as a download: its bytes are never a page of the hub.
func (h *Handler) download(w http.ResponseWriter, r *http.Request) error {
	at, content, err := h.svc.FindAttachment(r.Context(), web.ActorFrom(r), r.PathValue("id"), r.PathValue("attachment"))
	if err != nil {
		return err
	}
	return web.ServeDownload(w, at.Name, at.SHA256, content)
}

func (h *Handler) apiDeleteAttachment(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteAttachment(r.Context(), web.ActorFrom(r), r.PathValue("id"), r.PathValue("attachment")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) apiTemplate(w http.ResponseWriter, r *http.Request) error {
	lang := r.URL.Query().Get("lang")
	if lang == "" {
		lang = h.srv.Lang(r)
	}
	sk, err := FindSkeleton(r.PathValue("kind"), lang)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, sk)
	return nil
}

// shareOf is the sharing of an article as a form shows it.
func shareOf(s policy.Share) policy.Sharing { return policy.SharingOf(s) }
