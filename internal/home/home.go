// Package home is the start page: the actor's situation at a glance (what
// waits for them, what arrived lately, how much was shared with them, by
// level).
package home

import (
	"context"
	"embed"
	"fmt"
	"net/http"
	"strings"
	"time"

	"verbund/internal/agreements"
	"verbund/internal/db"
	"verbund/internal/forum"
	"verbund/internal/orgs"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// files are the page and its texts.
//
//go:embed all:templates i18n
var files embed.FS

type handler struct {
	db         *db.DB
	forum      *forum.Service
	agreements *agreements.Service
	orgs       *orgs.Service
	srv        *web.Server
	tpl        *web.Templates
}

// Register adds the home page.
func Register(srv *web.Server, d *db.DB, f *forum.Service, g *agreements.Service, o *orgs.Service) error {
	tpl, err := srv.Templates(files, "templates/*.html")
	if err != nil {
		return err
	}
	if err := srv.Catalog.Add(files, "i18n"); err != nil {
		return err
	}
	h := &handler{db: d, forum: f, agreements: g, orgs: o, srv: srv, tpl: tpl}
	srv.Router.Handle("GET /{$}", web.Read, h.page)
	return nil
}

// Bar is one row of a bar chart.
type Bar struct {
	TLP   policy.TLP
	Count int
	Width int // 0..100 in steps of 5 (CSS classes w-0 … w-100; no inline styles under our CSP)
}

type data struct {
	Posts       []forum.Post
	Awaiting    []agreements.Agreement
	Requests    []joinRequest
	Communities []orgs.Community
	Partners    []agreements.Flow // orgs an active agreement lets data flow to and from
	Bars        []Bar
	Total       int
	Admins      string // who accepts the awaited agreements, for readers who cannot
}

type joinRequest struct {
	CommunityID, CommunityName, OrgName string
}

func (h *handler) page(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	ctx := r.Context()
	var d data
	var err error
	if d.Posts, _, err = h.forum.FindPosts(ctx, a, forum.ListFilter{Limit: 8, Audiences: true}); err != nil {
		return err
	}
	if err := h.forum.NamePosts(ctx, d.Posts); err != nil {
		return err
	}
	gs, err := h.agreements.FindAgreements(ctx, a, "")
	if err != nil {
		return err
	}
	for _, g := range gs {
		if g.AwaitsMyOrg {
			d.Awaiting = append(d.Awaiting, g)
		}
	}
	if len(d.Awaiting) > 0 && !a.CanAdmin() {
		names, err := h.orgs.FindAdminNames(ctx, a)
		if err != nil {
			return err
		}
		d.Admins = strings.Join(names, ", ")
	}
	flows, err := h.agreements.FindFlows(ctx, a)
	if err != nil {
		return err
	}
	d.Partners = flows
	cs, err := h.orgs.FindCommunities(ctx, a)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.MyStatus == "active" {
			d.Communities = append(d.Communities, c)
		}
	}
	if a.CanAdmin() {
		if d.Requests, err = h.requests(ctx, a); err != nil {
			return err
		}
	}
	if d.Bars, d.Total, err = h.byLevel(ctx, a); err != nil {
		return err
	}
	p := web.Page{Nav: "home", Data: d, Live: "/events?topic=forum"}
	p.Title = h.srv.Catalog.T(h.srv.Lang(r), "home.title")
	return h.tpl.Render(w, r, http.StatusOK, "home", p)
}

func (h *handler) requests(ctx context.Context, a policy.Actor) ([]joinRequest, error) {
	rows, err := h.db.R().Query(ctx, `SELECT c.id, c.name, o.name FROM community_members m JOIN communities c ON c.id = m.community_id
		JOIN orgs o ON o.id = m.org_id WHERE c.coordinator_org_id = ? AND m.status = 'pending' ORDER BY m.requested_at`, a.OrgID)
	if err != nil {
		return nil, fmt.Errorf("join requests: %w", err)
	}
	defer rows.Close()
	var out []joinRequest
	for rows.Next() {
		var j joinRequest
		if err := rows.Scan(&j.CommunityID, &j.CommunityName, &j.OrgName); err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// byLevel counts the posts of the last 30 days the actor can see, by TLP
// level (the forum counts through the sharing kernel like every list).
func (h *handler) byLevel(ctx context.Context, a policy.Actor) ([]Bar, int, error) {
	since := db.Now() - (30 * 24 * time.Hour).Microseconds()
	counts, err := h.forum.CountPostsByLevel(ctx, a, since)
	if err != nil {
		return nil, 0, err
	}
	total, most := 0, 0
	for _, n := range counts {
		total += n
		most = max(most, n)
	}
	var bars []Bar
	for _, l := range policy.Levels() {
		b := Bar{TLP: l, Count: counts[l]}
		if most > 0 {
			b.Width = web.BarWidth(b.Count, most)
		}
		bars = append(bars, b)
	}
	return bars, total, nil
}
