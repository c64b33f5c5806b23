package forum

import (
	"context"
	"fmt"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// objectTypes names threads, posts and channels in records (the audit
// trail) for readers who may see them now, through the kernel like every
// read: a record of a post the reader may not see (TLP:RED to others, or
// deleted since) names no title and links nowhere.
func (h *Handler) objectTypes() []web.ObjectType {
	return []web.ObjectType{
		{Name: "thread", Label: "forum.thread", Resolve: h.svc.nameThreads},
		{Name: "post", Label: "forum.post", Resolve: h.svc.namePosts},
		{Name: "channel", Label: "forum.channel", Resolve: h.svc.nameChannels},
	}
}

func idArgs(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

func (s *Service) nameThreads(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT t.id, t.title, '' FROM `).Append(r.From(s.threads, "t")).Add(` WHERE t.id IN (`+db.Placeholders(len(ids))+`)`, idArgs(ids)...)
	return s.refs(ctx, h, q, func(id, _ string) string { return "/forum/threads/" + id })
}

func (s *Service) namePosts(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT p.id, t.title, p.thread_id FROM `).Append(r.From(s.posts, "p")).Append(r.Join(s.threads, "t", "p.thread_id")).
		Add(` WHERE p.id IN (`+db.Placeholders(len(ids))+`)`, idArgs(ids)...)
	return s.refs(ctx, h, q, func(id, thread string) string { return "/forum/threads/" + thread + "#post-" + id })
}

func (s *Service) nameChannels(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	out := map[string]web.Ref{}
	for _, id := range ids {
		ch, err := s.FindChannelByID(ctx, a, id)
		if fault.Is(err, fault.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = web.Ref{Name: ch.Title(), URL: "/forum/channels/" + id}
	}
	return out, nil
}

// refs reads rows of (id, name, more) with q — more is what page needs
// besides the id (a post's thread; "" for a thread) — and gives each its page.
func (s *Service) refs(ctx context.Context, h db.Handle, q *db.Query, page func(id, more string) string) (map[string]web.Ref, error) {
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("name objects: %w", err)
	}
	found, err := db.Collect(rows, "name objects", func(r db.Scanner) (v [3]string, err error) {
		err = r.Scan(&v[0], &v[1], &v[2])
		return v, err
	})
	out := make(map[string]web.Ref, len(found))
	for _, v := range found {
		out[v[0]] = web.Ref{Name: v[1], URL: page(v[0], v[2])}
	}
	return out, err
}
