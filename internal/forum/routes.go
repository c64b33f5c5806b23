package forum

import (
	"embed"
	"fmt"
	"net/http"

	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/readcache"
	"verbund/internal/web"
)

// files are the capability's pages, its texts and its part of the API
// document.
//
//go:embed all:templates i18n openapi.json
var files embed.FS

// Handler serves the forum pages and API.
type Handler struct {
	svc *Service
	srv *web.Server
	tpl *web.Templates
	// pages keeps API pages of posts (internal/readcache): the list of a
	// thread is read far more often than it changes. nil: off.
	pages *readcache.Cache
}

// Register adds the forum routes. pages, when not nil, keeps API pages of
// posts (see internal/readcache).
func Register(srv *web.Server, svc *Service, pages *readcache.Cache) error {
	tpl, err := srv.Templates(files, "templates/*.html")
	if err != nil {
		return err
	}
	if err := srv.Catalog.Add(files, "i18n"); err != nil {
		return err
	}
	if err := srv.AddOpenAPI(files, "openapi.json"); err != nil {
		return err
	}
	h := &Handler{svc: svc, srv: srv, tpl: tpl, pages: pages}
	for _, t := range h.objectTypes() {
		srv.AddObjectType(t)
	}
	srv.AddNav(web.NavItem{Key: "forum", Path: "/forum", Label: "nav.forum", Shortcut: "forum"})
	r := srv.Router
	r.Handle("GET /forum", web.Read, h.forumPage)
	r.Handle("POST /forum/channels", web.OrgAdmin, h.createChannelForm)
	r.Handle("GET /forum/channels/{id}", web.Read, h.channelPage)
	r.Handle("POST /forum/channels/{id}/threads", web.Write, h.createThreadForm)
	r.Handle("GET /forum/threads/{id}", web.Read, h.threadPage)
	r.Handle("GET /forum/threads/{id}/fragment", web.Read, h.threadFragment)
	r.Handle("POST /forum/threads/{id}/posts", web.Write, h.replyForm)
	r.Handle("POST /forum/threads/{id}/delete", web.Write, h.deleteThreadForm)
	r.Handle("GET /forum/posts/{id}/fragment", web.Read, h.postFragment)
	r.Handle("GET /forum/posts/{id}/edit", web.Read, h.editPage)
	// Who would receive a new thread or a reply shared as asked: the
	// compose forms' line "Recipients: …", updated as the form changes.
	r.Handle("GET /forum/channels/{id}/recipients", web.Read, h.channelRecipients)
	r.Handle("GET /forum/threads/{id}/recipients", web.Read, h.threadRecipients)
	r.Handle("POST /forum/posts/{id}/edit", web.Write, h.editForm)
	r.Handle("POST /forum/posts/{id}/delete", web.Write, h.deleteForm)

	r.Handle("GET /api/v1/channels", web.Read, h.apiChannels)
	r.Handle("POST /api/v1/channels", web.OrgAdmin, h.apiCreateChannel)
	r.Handle("GET /api/v1/channels/{id}/threads", web.Read, h.apiThreads)
	r.Handle("POST /api/v1/channels/{id}/threads", web.Write, h.apiCreateThread)
	r.Handle("GET /api/v1/threads/{id}", web.Read, h.apiThread)
	r.Handle("DELETE /api/v1/threads/{id}", web.Write, h.apiDeleteThread)
	r.Handle("GET /api/v1/threads/{id}/posts", web.Read, h.apiThreadPosts)
	r.Handle("POST /api/v1/threads/{id}/posts", web.Write, h.apiReply)
	r.Handle("GET /api/v1/posts", web.Read, h.apiFeed)
	r.Handle("GET /api/v1/posts/{id}", web.Read, h.apiPost)
	r.Handle("PATCH /api/v1/posts/{id}", web.Write, h.apiEdit)
	r.Handle("DELETE /api/v1/posts/{id}", web.Write, h.apiDelete)
	r.Handle("GET /api/v1/posts/{id}/revisions", web.Read, h.apiRevisions)
	return nil
}

// formSharing reads the level and audience fields of a form.
func formSharing(r *http.Request) (policy.Sharing, error) {
	if err := r.ParseForm(); err != nil {
		return policy.Sharing{}, fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
	}
	return policy.Sharing{TLP: r.PostFormValue("tlp"), Audience: r.PostFormValue("audience"), Orgs: r.PostForm["orgs"], People: r.PostForm["people"]}, nil
}

// querySharing reads the level and audience of a compose form sent as a
// query (the recipients preview).
func querySharing(r *http.Request) policy.Sharing {
	q := r.URL.Query()
	return policy.Sharing{TLP: q.Get("tlp"), Audience: q.Get("audience"), Orgs: q["orgs"], People: q["people"]}
}

type forumData struct {
	Channels []Channel
	Posts    []Post
	Next     string
	Query    string // a search: the list shows its results, and takes no live inserts
	Error    *fault.Error
}

func (h *Handler) forumPage(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	chs, err := h.svc.FindChannels(r.Context(), a)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	posts, next, err := h.svc.FindPosts(r.Context(), a, ListFilter{Query: q.Get("q"), After: q.Get("next"), Limit: 30, Audiences: true})
	if err != nil {
		return err
	}
	if err := h.svc.NamePosts(r.Context(), posts); err != nil {
		return err
	}
	p := web.Page{Nav: "forum", Data: forumData{Channels: chs, Posts: posts, Next: next, Query: q.Get("q")}}
	if q.Get("q") == "" {
		p.Live = "/events?topic=forum" // the feed; a search's results stay as found
	}
	p.Title = h.srv.Catalog.T(h.srv.Lang(r), "forum.title")
	return h.tpl.Render(w, r, http.StatusOK, "forum", p)
}

func (h *Handler) createChannelForm(w http.ResponseWriter, r *http.Request) error {
	c, err := h.svc.CreateChannel(r.Context(), web.ActorFrom(r), r.PostFormValue("community_id"), r.PostFormValue("name"), r.PostFormValue("description"))
	if err != nil {
		return err
	}
	return web.Redirect(w, r, "/forum/channels/"+c.ID, "saved")
}

type channelData struct {
	Channel    Channel
	Threads    []Thread
	Next       string // cursor of the next page of threads
	Compose    Compose
	Recipients Recipients // who the form's sharing reaches as it stands
	Error      *fault.Error
	Form       NewThread
}

func (h *Handler) channelPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderChannel(w, r, http.StatusOK, channelData{})
}

func (h *Handler) renderChannel(w http.ResponseWriter, r *http.Request, status int, d channelData) error {
	a := web.ActorFrom(r)
	ch, err := h.svc.FindChannelByID(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	d.Channel = ch
	ctx := r.Context()
	if d.Threads, d.Next, err = h.svc.FindThreads(ctx, a, ch.ID, r.URL.Query().Get("next"), 100); err != nil {
		return err
	}
	if err := h.svc.NameThreads(ctx, d.Threads); err != nil {
		return err
	}
	if a.CanWrite() {
		if d.Compose, err = h.svc.FindCompose(ctx, a, ch, nil); err != nil {
			return err
		}
		if d.Form.TLP == "" {
			d.Form.TLP = "AMBER"
		}
		if d.Form.Audience == "" {
			d.Form.Audience = string(defaultAudience(ch, d.Form.TLP))
		}
		// Also after a refused send: the line says who the form as it
		// stands would reach (a missing title does not change that).
		if d.Recipients, err = h.svc.PreviewThread(ctx, a, ch.ID, d.Form.Sharing); err != nil {
			return err
		}
	}
	title := ch.Title()
	p := web.Page{Nav: "forum", Data: d, Title: title, Live: "/events?topic=channel:" + ch.ID}
	return h.tpl.Render(w, r, status, "channel", p)
}

func (h *Handler) createThreadForm(w http.ResponseWriter, r *http.Request) error {
	sharing, err := formSharing(r)
	if err != nil {
		return err
	}
	in := NewThread{Title: r.PostFormValue("title"), Body: r.PostFormValue("body"), Sharing: sharing}
	t, first, err := h.svc.CreateThread(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		if e, ok := fault.As(err); ok && (e.Kind == fault.Invalid || e.Kind == fault.Forbidden) {
			return h.renderChannel(w, r, web.Status(e.Kind), channelData{Error: e, Form: in})
		}
		return err
	}
	return web.Redirect(w, r, "/forum/threads/"+t.ID, partial(first))
}

// partial names the flash that tells the author some circle members did
// not receive the post (no agreement covers them yet).
func partial(p Post) string {
	if len(p.NotDeliveredTo) > 0 {
		return "partial_delivery"
	}
	return ""
}

type threadData struct {
	Thread     Thread
	Channel    Channel
	Posts      []Post
	Next       string
	Compose    Compose
	Recipients Recipients // who a reply as the form stands reaches
	AsThread   string     // the label of the default audience: the thread's
	Error      *fault.Error
	Form       NewPost
}

func (h *Handler) threadPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderThread(w, r, http.StatusOK, threadData{})
}

func (h *Handler) renderThread(w http.ResponseWriter, r *http.Request, status int, d threadData) error {
	a := web.ActorFrom(r)
	ctx := r.Context()
	t, err := h.svc.FindThreadByID(ctx, a, r.PathValue("id"))
	if err != nil {
		return err
	}
	d.Thread = t
	// A reader may see a thread without using its channel (TLP:CLEAR is
	// hub-wide; a partner named by its org may be outside the circle):
	// the page then shows the thread without the reply form.
	if d.Channel, err = h.svc.FindChannelByID(ctx, a, t.ChannelID); err != nil && !fault.Is(err, fault.NotFound) {
		return err
	}
	if d.Posts, d.Next, err = h.svc.FindPosts(ctx, a, ListFilter{Thread: t.ID, After: r.URL.Query().Get("next"), Limit: 200, Audiences: true}); err != nil {
		return err
	}
	if err := h.svc.NamePosts(ctx, d.Posts); err != nil {
		return err
	}
	if d.Thread.AudienceNames, err = policy.AudienceNames(ctx, h.svc.DB.R(), t.Share.Audience); err != nil {
		return err
	}
	if d.Channel.ID != "" && a.CanWrite() {
		if d.Compose, err = h.svc.FindCompose(ctx, a, d.Channel, &d.Thread); err != nil {
			return err
		}
		if d.Form.TLP == "" {
			d.Form.TLP = t.Share.TLP.Name()
		}
		// Also after a refused send: the line says who the form as it
		// stands would reach (a missing title does not change that).
		if d.Recipients, err = h.svc.PreviewReply(ctx, a, t.ID, d.Form.Sharing); err != nil {
			return err
		}
		d.AsThread = h.asThread(r, d.Thread, d.Channel)
	}
	p := web.Page{Nav: "forum", Data: d, Title: t.Title, Live: "/events?topic=thread:" + t.ID}
	return h.tpl.Render(w, r, status, "thread", p)
}

func (h *Handler) replyForm(w http.ResponseWriter, r *http.Request) error {
	sharing, err := formSharing(r)
	if err != nil {
		return err
	}
	in := NewPost{Body: r.PostFormValue("body"), Sharing: sharing}
	p, err := h.svc.CreatePost(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		if e, ok := fault.As(err); ok && (e.Kind == fault.Invalid || e.Kind == fault.Forbidden) {
			return h.renderThread(w, r, web.Status(e.Kind), threadData{Error: e, Form: in})
		}
		return err
	}
	return web.Redirect(w, r, fmt.Sprintf("/forum/threads/%s#post-%s", p.ThreadID, p.ID), partial(p))
}

func (h *Handler) postFragment(w http.ResponseWriter, r *http.Request) error {
	p, err := h.svc.FindPostByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	if p.AudienceNames, err = policy.AudienceNames(r.Context(), h.svc.DB.R(), p.Share.Audience); err != nil {
		return err
	}
	if r.URL.Query().Get("as") == "feed" {
		return h.tpl.Fragment(w, r, "feeditem", web.Page{Data: p})
	}
	return h.tpl.Fragment(w, r, "post", web.Page{Data: p})
}

// threadFragment is a thread's row in its channel's list, as this reader
// sees it (posts and last activity over the posts they may see), for a
// new thread and for a thread a reply moved up.
func (h *Handler) threadFragment(w http.ResponseWriter, r *http.Request) error {
	t, err := h.svc.FindThreadByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	if t.AudienceNames, err = policy.AudienceNames(r.Context(), h.svc.DB.R(), t.Share.Audience); err != nil {
		return err
	}
	return h.tpl.Fragment(w, r, "threadrow", web.Page{Data: t})
}

// asThread labels a reply's default audience: the thread's, by its kind
// (and a circle by its name). The named orgs or people are not listed: an
// option of a select cannot wrap, and the page names them above the form
// (the thread's audience) and below the select (the recipients line).
func (h *Handler) asThread(r *http.Request, t Thread, ch Channel) string {
	lang := h.srv.Lang(r)
	cat := h.srv.Catalog
	label := cat.T(lang, "audience.all_orgs")
	switch {
	case t.Share.TLP == policy.Clear:
	case t.Share.Audience.Kind == policy.AudCommunity:
		label = cat.T(lang, "audience.community") + " " + ch.CommunityName
	case t.Share.Audience.Kind == policy.AudOrg:
		label = cat.T(lang, "audience.own_org")
	case t.Share.Audience.Kind == policy.AudOrgs:
		label = cat.T(lang, "audience.named_orgs")
	case t.Share.Audience.Kind == policy.AudPeople:
		label = cat.T(lang, "audience.named_people")
	}
	return cat.T(lang, "forum.audience_as_thread", "whom", label)
}

// channelRecipients is the compose form's recipients line for a new
// thread in the channel.
func (h *Handler) channelRecipients(w http.ResponseWriter, r *http.Request) error {
	rc, err := h.svc.PreviewThread(r.Context(), web.ActorFrom(r), r.PathValue("id"), querySharing(r))
	if err != nil {
		return err
	}
	return h.tpl.Fragment(w, r, "recipients", web.Page{Data: rc})
}

// threadRecipients is the reply form's recipients line.
func (h *Handler) threadRecipients(w http.ResponseWriter, r *http.Request) error {
	rc, err := h.svc.PreviewReply(r.Context(), web.ActorFrom(r), r.PathValue("id"), querySharing(r))
	if err != nil {
		return err
	}
	return h.tpl.Fragment(w, r, "recipients", web.Page{Data: rc})
}

type editData struct {
	Post       Post
	Revisions  []Revision
	Compose    Compose // offered when the reader's org may change the post and uses its channel
	Sharing    policy.Sharing
	Recipients Recipients
	Error      *fault.Error
}

func (h *Handler) editPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderEdit(w, r, http.StatusOK, nil)
}

func (h *Handler) renderEdit(w http.ResponseWriter, r *http.Request, status int, e *fault.Error) error {
	a := web.ActorFrom(r)
	ctx := r.Context()
	p, err := h.svc.FindPostByID(ctx, a, r.PathValue("id"))
	if err != nil {
		return err
	}
	d := editData{Post: p, Error: e}
	if d.Revisions, err = h.svc.FindRevisions(ctx, a, p.ID); err != nil {
		return err
	}
	t, err := h.svc.FindThreadByID(ctx, a, p.ThreadID)
	if err != nil {
		return err
	}
	// The audience choices need the channel; a reader outside it sees the
	// history without them.
	ch, err := h.svc.FindChannelByID(ctx, a, t.ChannelID)
	switch {
	case err == nil && p.Share.Owner == a.OrgID && a.CanWrite():
		if d.Compose, err = h.svc.FindCompose(ctx, a, ch, &t); err != nil {
			return err
		}
		d.Compose.Audiences = d.Compose.Audiences[1:] // no "as the thread": the post has its own
		d.Sharing = policy.SharingOf(p.Share)
		if d.Recipients, err = h.svc.PreviewReply(ctx, a, t.ID, d.Sharing); err != nil {
			return err
		}
	case err != nil && !fault.Is(err, fault.NotFound):
		return err
	}
	title := "forum.edit_history"
	if p.Share.Owner == a.OrgID && a.CanWrite() {
		title = "forum.edit"
	}
	pg := web.Page{Nav: "forum", Data: d, Title: h.srv.Catalog.T(h.srv.Lang(r), title)}
	return h.tpl.Render(w, r, status, "edit", pg)
}

func (h *Handler) editForm(w http.ResponseWriter, r *http.Request) error {
	body := r.PostFormValue("body")
	up := PostUpdate{Body: &body}
	// The sharing fields are sent with every edit; they change who
	// receives the post only when the author asked for that.
	if r.PostFormValue("reshare") == "1" {
		s, err := formSharing(r)
		if err != nil {
			return err
		}
		up.Sharing = &s
	}
	p, err := h.svc.UpdatePost(r.Context(), web.ActorFrom(r), r.PathValue("id"), up)
	if err != nil {
		if e, ok := fault.As(err); ok && (e.Kind == fault.Invalid || e.Kind == fault.Forbidden) {
			return h.renderEdit(w, r, web.Status(e.Kind), e)
		}
		return err
	}
	return web.Redirect(w, r, fmt.Sprintf("/forum/threads/%s#post-%s", p.ThreadID, p.ID), "")
}

func (h *Handler) deleteForm(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	p, err := h.svc.FindPostByID(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	d, err := h.svc.DeletePost(r.Context(), a, p.ID)
	if err != nil {
		return err
	}
	if d.ThreadGone {
		return web.Redirect(w, r, "/forum/channels/"+d.Channel, "thread_deleted")
	}
	return web.Redirect(w, r, "/forum/threads/"+p.ThreadID, "deleted")
}

func (h *Handler) deleteThreadForm(w http.ResponseWriter, r *http.Request) error {
	channel, err := h.svc.DeleteThread(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return web.Redirect(w, r, "/forum/channels/"+channel, "thread_deleted")
}
