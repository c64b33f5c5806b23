package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"verbund/internal/accounts"
	"verbund/internal/agreements"
	"verbund/internal/app"
	"verbund/internal/config"
	"verbund/internal/db"
	"verbund/internal/policy"
)

// OrgKeys are the organisations of the benchmark world, as in
// internal/app/apptest: sme (company), cloud (provider), cert (coordinator
// of the circle), nocontract (circle member that never accepted the
// charter), outsider (in no circle).
var OrgKeys = []string{"sme", "cloud", "cert", "nocontract", "outsider"}

// User is a benchmark account with its API tokens.
type User struct {
	Key        string // e.g. "sme.analyst", "cloud.reader7"
	Org        string // org key
	ID, OrgID  string
	ReadToken  string
	WriteToken string // analysts and admins only
	Actor      policy.Actor
}

// World is the population the scenarios run against: the same shape as the
// test world (one trust circle with a charter for knowledge up to AMBER
// accepted by cert, sme and cloud; a bilateral sme↔cloud agreement for
// knowledge up to RED), plus extra reader accounts per org.
type World struct {
	Orgs          map[string]string // key → id
	Users         map[string]*User
	Readers       map[string][]*User // org key → its reader accounts
	Circle        string
	CircleChannel string
	OrgChannel    map[string]string // org key → internal channel
	Threads       *policy.Kind      // the forum's kinds, for seeding
	Posts         *policy.Kind
	App           *app.App // the hub built on the database, for seeding other capabilities
}

// BuildWorld creates the world in an empty, migrated database. readers is
// the number of extra viewer accounts (with a read token) per org.
func BuildWorld(ctx context.Context, d *db.DB, readers int) (*World, error) {
	a, err := app.New(ctx, &config.Config{Addr: "127.0.0.1:0", LogLevel: "error"}, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	w := &World{Orgs: map[string]string{}, Users: map[string]*User{}, Readers: map[string][]*User{}, OrgChannel: map[string]string{}}
	op := policy.System("bench")
	kinds := map[string]string{"sme": "company", "cloud": "provider", "cert": "cert", "nocontract": "company", "outsider": "company"}
	names := map[string]string{"sme": "Müller Maschinenbau GmbH", "cloud": "Wolke Cloud AG", "cert": "CERT Süd",
		"nocontract": "Ohne Vertrag GmbH", "outsider": "Hansa Logistik AG"}
	addUser := func(org, role, key string, write bool) (*User, error) {
		u, err := a.Accounts.CreateUser(ctx, op, accounts.NewUser{OrgID: w.Orgs[org], Email: key + "@" + org + ".example", Name: key, Role: role})
		if err != nil {
			return nil, fmt.Errorf("create user %s: %w", key, err)
		}
		bu := &User{Key: key, Org: org, ID: u.ID, OrgID: u.OrgID,
			Actor: policy.Actor{UserID: u.ID, OrgID: u.OrgID, Role: u.Role, Scope: policy.ScopeSession, Via: "bench", Name: key}}
		if _, bu.ReadToken, err = a.Accounts.CreateToken(ctx, op, u.ID, accounts.NewToken{Scope: "read"}); err != nil {
			return nil, err
		}
		if write {
			if _, bu.WriteToken, err = a.Accounts.CreateToken(ctx, op, u.ID, accounts.NewToken{Scope: "write"}); err != nil {
				return nil, err
			}
		}
		w.Users[key] = bu
		return bu, nil
	}
	for _, k := range OrgKeys {
		o, err := a.Orgs.CreateOrg(ctx, op, names[k], kinds[k], "")
		if err != nil {
			return nil, err
		}
		w.Orgs[k] = o.ID
		for _, role := range []string{"admin", "analyst"} {
			if _, err := addUser(k, role, k+"."+role, true); err != nil {
				return nil, err
			}
		}
		if _, err := addUser(k, "viewer", k+".viewer", false); err != nil {
			return nil, err
		}
		for i := range readers {
			u, err := addUser(k, "viewer", fmt.Sprintf("%s.reader%d", k, i), false)
			if err != nil {
				return nil, err
			}
			w.Readers[k] = append(w.Readers[k], u)
		}
	}
	c, err := a.Orgs.CreateCommunity(ctx, op, "Mittelstand Süd", "", w.Orgs["cert"])
	if err != nil {
		return nil, err
	}
	w.Circle = c.ID
	for _, k := range []string{"sme", "cloud", "nocontract"} {
		if err := a.Orgs.AddMember(ctx, op, c.ID, w.Orgs[k]); err != nil {
			return nil, err
		}
	}
	charter, err := a.Agreements.Propose(ctx, w.Users["cert.admin"].Actor, "", agreements.Input{Kind: "charter", Community: c.ID,
		Categories: []string{"knowledge", "incident"}, MaxTLP: "AMBER", RetentionDays: 365})
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"sme", "cloud"} {
		if _, err := a.Agreements.Accept(ctx, w.Users[k+".admin"].Actor, charter.ID); err != nil {
			return nil, err
		}
	}
	if _, err := a.Agreements.Propose(ctx, op, w.Orgs["sme"], agreements.Input{Kind: "bilateral", Partner: w.Orgs["cloud"],
		Categories: []string{"knowledge", "log"}, MaxTLP: "RED", RetentionDays: 90}); err != nil {
		return nil, err
	}
	for k := range w.Orgs {
		chs, err := a.Forum.FindChannels(ctx, w.Users[k+".analyst"].Actor)
		if err != nil {
			return nil, err
		}
		for _, ch := range chs {
			if ch.CommunityID == c.ID {
				w.CircleChannel = ch.ID
			} else if ch.CommunityID == "" {
				w.OrgChannel[k] = ch.ID
			}
		}
	}
	w.Threads, w.Posts = a.Forum.Kinds()
	w.App = a
	if w.CircleChannel == "" {
		return nil, fmt.Errorf("the circle has no channel")
	}
	return w, nil
}

// Population is what SeedPosts needs to know of a world (the bench world
// or the apptest world, which have the same shape).
func (w *World) Population() Population {
	p := Population{Orgs: w.Orgs, Community: w.Circle, CircleChannel: w.CircleChannel, OrgChannel: w.OrgChannel,
		Authors: map[string]string{}, People: map[string][]string{}, Threads: w.Threads, Posts: w.Posts}
	for k := range w.Orgs {
		p.Authors[k] = w.Users[k+".analyst"].ID
		p.People[k] = []string{w.Users[k+".analyst"].ID, w.Users[k+".admin"].ID}
	}
	return p
}

// countVisible counts the posts a may see, through the sharing kernel.
func countVisible(ctx context.Context, d *db.DB, w *World, a policy.Actor) (int, error) {
	r, err := policy.NewReader(ctx, d.R(), a, db.Now())
	if err != nil {
		return 0, err
	}
	q := db.Q(`SELECT COUNT(*) FROM `).Append(r.From(w.Posts, "p"))
	var n int
	if err := d.R().SelectRow(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("count visible posts: %w", db.Map(err))
	}
	return n, nil
}
