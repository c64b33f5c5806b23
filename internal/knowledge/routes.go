package knowledge

import (
	"context"
	"embed"
	"fmt"
	"net/http"

	"verbund/internal/db"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// files are the capability's pages, its texts and its part of the API
// document.
//
//go:embed all:templates i18n openapi.json
var files embed.FS

// Handler serves the knowledge pages and API.
type Handler struct {
	svc *Service
	srv *web.Server
	tpl *web.Templates
}

// Register adds the knowledge routes.
func Register(srv *web.Server, svc *Service) error {
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
	svc.SetResolver(srv.Resolve)
	h := &Handler{svc: svc, srv: srv, tpl: tpl}
	srv.AddObjectType(web.ObjectType{Name: "article", Label: "knowledge.article", Resolve: svc.nameArticles})
	srv.AddObjectType(web.ObjectType{Name: "article_comment", Label: "knowledge.comment", Resolve: svc.nameComments})
	srv.AddNav(web.NavItem{Key: "knowledge", Path: "/knowledge", Label: "nav.knowledge", Go: "k"})
	r := srv.Router
	r.Handle("GET /knowledge", web.Read, h.libraryPage)
	r.Handle("GET /knowledge/new", web.Read, h.newPage)
	r.Handle("POST /knowledge", web.Write, h.createForm)
	r.Handle("GET /knowledge/{id}", web.Read, h.articlePage)
	r.Handle("GET /knowledge/{id}/edit", web.Read, h.editPage)
	r.Handle("POST /knowledge/{id}/edit", web.Write, h.editForm)
	r.Handle("POST /knowledge/{id}/delete", web.Write, h.deleteForm)
	r.Handle("GET /knowledge/{id}/versions", web.Read, h.versionsPage)
	r.Handle("POST /knowledge/{id}/comments", web.Write, h.commentForm)
	r.Handle("POST /knowledge/comments/{id}/delete", web.Write, h.deleteCommentForm)
	// A vote is a reader's own: any role may cast it (not a read token).
	r.Handle("POST /knowledge/{id}/helpful", web.Read, h.helpfulForm)
	r.HandleUpload("POST /knowledge/{id}/attachments", web.Write, h.attachForm)
	r.Handle("GET /knowledge/{id}/attachments/{attachment}", web.Read, h.download)
	r.Handle("POST /knowledge/{id}/attachments/{attachment}/delete", web.Write, h.deleteAttachmentForm)

	r.Handle("GET /api/v1/articles", web.Read, h.apiList)
	r.Handle("POST /api/v1/articles", web.Write, h.apiCreate)
	r.Handle("GET /api/v1/articles/{id}", web.Read, h.apiGet)
	r.Handle("PATCH /api/v1/articles/{id}", web.Write, h.apiUpdate)
	r.Handle("DELETE /api/v1/articles/{id}", web.Write, h.apiDelete)
	r.Handle("GET /api/v1/articles/{id}/versions", web.Read, h.apiVersions)
	r.Handle("GET /api/v1/articles/{id}/diff", web.Read, h.apiDiff)
	r.Handle("GET /api/v1/articles/{id}/reads", web.Read, h.apiReads)
	r.Handle("GET /api/v1/articles/{id}/comments", web.Read, h.apiComments)
	r.Handle("POST /api/v1/articles/{id}/comments", web.Write, h.apiCreateComment)
	r.Handle("DELETE /api/v1/article-comments/{id}", web.Write, h.apiDeleteComment)
	r.Handle("PUT /api/v1/articles/{id}/helpful", web.Read, h.apiHelpful(true))
	r.Handle("DELETE /api/v1/articles/{id}/helpful", web.Read, h.apiHelpful(false))
	r.Handle("GET /api/v1/articles/{id}/attachments", web.Read, h.apiAttachments)
	r.HandleUpload("POST /api/v1/articles/{id}/attachments", web.Write, h.apiAttach)
	r.Handle("GET /api/v1/articles/{id}/attachments/{attachment}", web.Read, h.download)
	r.Handle("DELETE /api/v1/articles/{id}/attachments/{attachment}", web.Write, h.apiDeleteAttachment)
	r.Handle("GET /api/v1/article-templates/{kind}", web.Read, h.apiTemplate)
	return nil
}

// nameArticles names the articles among ids that a may see, with their
// pages (the audit trail, links from other articles).
func (s *Service) nameArticles(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT a.id, a.title FROM `).Append(r.From(s.articles, "a")).Add(` WHERE a.id IN (`+db.Placeholders(len(ids))+`)`, idArgs(ids)...)
	return refs(ctx, h, q, func(id, _ string) string { return "/knowledge/" + id })
}

// nameComments names the comments among ids that a may see by their
// article's title.
func (s *Service) nameComments(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT c.id, ca.title, c.article_id FROM `).Append(r.FromIn(s.comments, "c", "ca")).Add(` WHERE c.id IN (`+db.Placeholders(len(ids))+`)`, idArgs(ids)...)
	return refs(ctx, h, q, func(id, article string) string { return "/knowledge/" + article + "#comment-" + id })
}

func idArgs(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// refs reads rows of (id, name[, more]) with q and gives each its page.
func refs(ctx context.Context, h db.Handle, q *db.Query, page func(id, more string) string) (map[string]web.Ref, error) {
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("name objects: %w", err)
	}
	cols, err := rows.Columns()
	if err != nil {
		_ = rows.Close()
		return nil, fmt.Errorf("name objects: %w", err)
	}
	found, err := db.Collect(rows, "name objects", func(r db.Scanner) (v [3]string, err error) {
		if len(cols) == 3 {
			err = r.Scan(&v[0], &v[1], &v[2])
		} else {
			err = r.Scan(&v[0], &v[1])
		}
		return v, err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]web.Ref, len(found))
	for _, v := range found {
		out[v[0]] = web.Ref{Name: v[1], URL: page(v[0], v[2])}
	}
	return out, nil
}

// formSharing reads the level and audience fields of a form.
func formSharing(r *http.Request) policy.Sharing {
	return policy.Sharing{TLP: r.PostFormValue("tlp"), Audience: r.PostFormValue("audience"), Community: r.PostFormValue("community_id"),
		Orgs: r.PostForm["orgs"], People: r.PostForm["people"]}
}
