package knowledge

import (
	"net/http"
	"net/url"
	"slices"

	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

type libraryData struct {
	Articles []Article
	Next     string
	Filter   ListFilter
	Circles  []policy.Option // the libraries of the reader's trust circles
	OrgName  string
	Kinds    []string
	Query    string // the next page's query, without next
}

func (h *Handler) libraryPage(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	q := r.URL.Query()
	f := ListFilter{Library: q.Get("library"), Kind: q.Get("kind"), Tag: q.Get("tag"), After: q.Get("next"), Limit: 50}
	as, next, err := h.svc.FindArticles(r.Context(), a, f)
	if err != nil {
		return err
	}
	c, err := h.svc.FindCompose(r.Context(), a)
	if err != nil {
		return err
	}
	for i := range as {
		if as[i].AudienceNames, err = policy.AudienceNamesWithCircle(r.Context(), h.svc.DB.R(), as[i].Share.Audience); err != nil {
			return err
		}
	}
	keep := url.Values{}
	for _, k := range []string{"library", "kind", "tag"} {
		if v := q.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	d := libraryData{Articles: as, Next: next, Filter: f, Circles: c.Circles, Kinds: Kinds, Query: keep.Encode()}
	p := web.Page{Nav: "knowledge", Data: d, Title: h.srv.Catalog.T(h.srv.Lang(r), "knowledge.title"), Live: "/events?topic=knowledge"}
	return h.tpl.Render(w, r, http.StatusOK, "library", p)
}

// formData is the article form: new or edit.
type formData struct {
	Article  Article // ID "" for a new one
	Form     NewArticle
	TagsText string
	Compose  Compose
	Kinds    []string
	Error    *fault.Error
	CanEdit  bool
}

func (h *Handler) newPage(w http.ResponseWriter, r *http.Request) error {
	kind := r.URL.Query().Get("kind")
	if kind == "" {
		kind = "guide"
	}
	sk, err := FindSkeleton(kind, h.srv.Lang(r))
	if err != nil {
		return err
	}
	form := NewArticle{Title: sk.Title + " ", Body: sk.Body, Kind: sk.Kind, Lang: sk.Lang, Sharing: policy.Sharing{TLP: "AMBER", Audience: "org"}}
	if c := r.URL.Query().Get("community_id"); c != "" {
		form.Sharing = policy.Sharing{TLP: "GREEN", Audience: "community", Community: c}
	}
	return h.renderForm(w, r, http.StatusOK, formData{Form: form})
}

func (h *Handler) renderForm(w http.ResponseWriter, r *http.Request, status int, d formData) error {
	a := web.ActorFrom(r)
	d.Kinds = Kinds
	d.CanEdit = a.CanWrite() && (d.Article.ID == "" || d.Article.Share.Owner == a.OrgID)
	if d.CanEdit {
		var err error
		if d.Compose, err = h.svc.FindCompose(r.Context(), a); err != nil {
			return err
		}
	}
	title := "knowledge.new"
	if d.Article.ID != "" {
		title = "knowledge.edit"
	}
	p := web.Page{Nav: "knowledge", Data: d, Title: h.srv.Catalog.T(h.srv.Lang(r), title)}
	return h.tpl.Render(w, r, status, "form", p)
}

// formArticle reads the article form.
func formArticle(r *http.Request) (NewArticle, string) {
	tags := r.PostFormValue("tags")
	in := NewArticle{Title: r.PostFormValue("title"), Body: r.PostFormValue("body"), Kind: r.PostFormValue("kind"), Lang: r.PostFormValue("lang"),
		Tags: ParseTags(tags), Sharing: formSharing(r)}
	for _, id := range r.PostForm["link_intel"] {
		if id != "" {
			in.Links = append(in.Links, Link{Type: "intel", ID: id})
		}
	}
	return in, tags
}

// invalid reports whether err is one the form shows beside the input.
func invalid(err error) (*fault.Error, bool) {
	e, ok := fault.As(err)
	return e, ok && (e.Kind == fault.Invalid || e.Kind == fault.Forbidden)
}

func (h *Handler) createForm(w http.ResponseWriter, r *http.Request) error {
	in, tags := formArticle(r)
	ar, err := h.svc.CreateArticle(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		if e, ok := invalid(err); ok {
			return h.renderForm(w, r, web.Status(e.Kind), formData{Form: in, TagsText: tags, Error: e})
		}
		return err
	}
	flash := "saved"
	if len(ar.NotDeliveredTo) > 0 {
		flash = "knowledge_partial"
	}
	return web.Redirect(w, r, "/knowledge/"+ar.ID, flash)
}

type articleData struct {
	Article     Article
	Comments    []Comment
	Attachments []Attachment
	Reads       Reads
	CanEdit     bool
	Error       *fault.Error
	Comment     string
}

func (h *Handler) articlePage(w http.ResponseWriter, r *http.Request) error {
	return h.renderArticle(w, r, http.StatusOK, articleData{}, true)
}

func (h *Handler) renderArticle(w http.ResponseWriter, r *http.Request, status int, d articleData, count bool) error {
	a := web.ActorFrom(r)
	ctx := r.Context()
	ar, err := h.svc.FindArticleByID(ctx, a, r.PathValue("id"))
	if err != nil {
		return err
	}
	if count {
		h.countRead(r, ar.ID)
	}
	d.Article = ar
	d.CanEdit = a.CanWrite() && ar.Share.Owner == a.OrgID
	if d.Comments, err = h.svc.FindComments(ctx, a, ar.ID); err != nil {
		return err
	}
	if d.Attachments, err = h.svc.FindAttachments(ctx, a, ar.ID); err != nil {
		return err
	}
	if d.Reads, err = h.svc.FindReads(ctx, a, ar.ID); err != nil {
		return err
	}
	p := web.Page{Nav: "knowledge", Data: d, Title: ar.Title, Live: "/events?topic=article:" + ar.ID}
	return h.tpl.Render(w, r, status, "article", p)
}

func (h *Handler) editPage(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	ar, err := h.svc.FindArticleByID(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	form := NewArticle{Title: ar.Title, Body: ar.Body, Kind: ar.Kind, Lang: ar.Lang, Tags: ar.Tags, Links: ar.Links, Sharing: shareOf(ar.Share)}
	return h.renderForm(w, r, http.StatusOK, formData{Article: ar, Form: form, TagsText: joinTags(ar.Tags)})
}

func joinTags(ts []string) string {
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += ", "
		}
		s += t
	}
	return s
}

func (h *Handler) editForm(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	id := r.PathValue("id")
	in, tags := formArticle(r)
	up := ArticleUpdate{Title: &in.Title, Body: &in.Body, Kind: &in.Kind, Lang: &in.Lang, Tags: &in.Tags, Links: &in.Links}
	if in.Links == nil {
		up.Links = &[]Link{}
	}
	cur, err := h.svc.FindArticleByID(r.Context(), a, id)
	if err != nil {
		return err
	}
	// The form shows intel links only: the article's other links stay.
	for _, l := range cur.Links {
		if l.Type != "intel" {
			*up.Links = append(*up.Links, Link{Type: l.Type, ID: l.ID})
		}
	}
	// The form's people list leaves out its editor (they cannot name
	// themselves away): an editor named in the audience stays in it.
	if in.Sharing.Audience == string(policy.AudPeople) && slices.Contains(cur.Share.Audience.People, a.UserID) && !slices.Contains(in.Sharing.People, a.UserID) {
		in.Sharing.People = append(in.Sharing.People, a.UserID)
	}
	// The sharing is a new disclosure only when it changed.
	if s := in.Sharing; s.TLP != cur.Share.TLP.Name() || s.Audience != string(cur.Share.Audience.Kind) ||
		s.Audience == string(policy.AudCommunity) && s.Community != cur.Share.Audience.Community ||
		s.Audience == string(policy.AudOrgs) && !sameSet(s.Orgs, cur.Share.Audience.Orgs) ||
		s.Audience == string(policy.AudPeople) && !sameSet(s.People, cur.Share.Audience.People) {
		up.Sharing = &in.Sharing
	}
	ar, err := h.svc.UpdateArticle(r.Context(), a, id, up)
	if err != nil {
		if e, ok := invalid(err); ok {
			return h.renderForm(w, r, web.Status(e.Kind), formData{Article: cur, Form: in, TagsText: tags, Error: e})
		}
		return err
	}
	flash := "saved"
	if len(ar.NotDeliveredTo) > 0 {
		flash = "knowledge_partial"
	}
	return web.Redirect(w, r, "/knowledge/"+id, flash)
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	in := map[string]bool{}
	for _, x := range a {
		in[x] = true
	}
	for _, x := range b {
		if !in[x] {
			return false
		}
	}
	return true
}

func (h *Handler) deleteForm(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteArticle(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	return web.Redirect(w, r, "/knowledge", "knowledge_deleted")
}

type versionsData struct {
	Article  Article
	Versions []Version
	Rows     []versionRow
	Diff     DiffResult
	Error    *fault.Error
}

// versionRow is a version in the history, with the one before it.
type versionRow struct {
	Version
	Prev int
}

func (h *Handler) versionsPage(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	ar, err := h.svc.FindArticleByID(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	d := versionsData{Article: ar}
	diff, vs, err := h.diff(r)
	status := http.StatusOK
	if err != nil {
		e, ok := invalid(err)
		if !ok {
			return err
		}
		d.Error, status = e, web.Status(e.Kind)
		if vs, err = h.svc.FindVersions(r.Context(), a, ar.ID, false); err != nil {
			return err
		}
	}
	d.Versions, d.Diff = vs, diff
	for i, v := range vs {
		row := versionRow{Version: v}
		if i+1 < len(vs) {
			row.Prev = vs[i+1].Version
		}
		d.Rows = append(d.Rows, row)
	}
	p := web.Page{Nav: "knowledge", Data: d, Title: h.srv.Catalog.T(h.srv.Lang(r), "knowledge.versions_of", "title", ar.Title)}
	return h.tpl.Render(w, r, status, "versions", p)
}

func (h *Handler) commentForm(w http.ResponseWriter, r *http.Request) error {
	in := NewComment{Body: r.PostFormValue("body")}
	c, err := h.svc.CreateComment(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		if e, ok := invalid(err); ok {
			return h.renderArticle(w, r, web.Status(e.Kind), articleData{Error: e, Comment: in.Body}, false)
		}
		return err
	}
	flash := "saved"
	if len(c.NotDeliveredTo) > 0 {
		flash = "knowledge_partial"
	}
	return web.Redirect(w, r, "/knowledge/"+c.ArticleID+"#comment-"+c.ID, flash)
}

func (h *Handler) deleteCommentForm(w http.ResponseWriter, r *http.Request) error {
	article, err := h.svc.DeleteComment(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return web.Redirect(w, r, "/knowledge/"+article+"#comments", "knowledge_deleted")
}

func (h *Handler) helpfulForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := h.svc.SetHelpful(r.Context(), web.ActorFrom(r), id, r.PostFormValue("helpful") != "0"); err != nil {
		return err
	}
	return web.Redirect(w, r, "/knowledge/"+id+"#helpful", "")
}

func (h *Handler) attachForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := h.readUpload(w, r, id); err != nil {
		if e, ok := fault.As(err); ok && (e.Kind == fault.Invalid || e.Kind == fault.TooLarge) {
			return h.renderArticle(w, r, web.Status(e.Kind), articleData{Error: e}, false)
		}
		return err
	}
	return web.Redirect(w, r, "/knowledge/"+id+"#attachments", "saved")
}

func (h *Handler) deleteAttachmentForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := h.svc.DeleteAttachment(r.Context(), web.ActorFrom(r), id, r.PathValue("attachment")); err != nil {
		return err
	}
	return web.Redirect(w, r, "/knowledge/"+id+"#attachments", "knowledge_deleted")
}
