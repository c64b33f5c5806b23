package policy_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/policy"
)

// TestVisibleAgreesWithCanSee builds random worlds (orgs, people, circles
// with members in every status, bilateral agreements and charters with
// random categories, levels, validity and acceptances, shares with every
// audience) and checks that the SQL predicate and the in-memory rule give
// the same answer for every reader and every object. Lists use the one,
// live streams the other: they must never disagree.
func TestVisibleAgreesWithCanSee(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		// Every way another org's object becomes visible must occur in
		// the worlds, or the comparison proves nothing for it: each
		// audience kind at each level it allows.
		classes := map[string]int{}
		for seed := uint64(1); seed <= 8; seed++ {
			checkWorld(t, d, seed, classes)
		}
		for _, c := range []string{"orgs/1", "orgs/2", "orgs/3", "community/1", "community/2", "people/1", "people/2", "people/3", "people/4"} {
			if classes[c] == 0 {
				t.Errorf("no world made another org's %s object visible: the worlds do not exercise that case (%v)", c, classes)
			}
		}
	})
}

func checkWorld(t *testing.T, d *db.DB, seed uint64, classes map[string]int) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, 42))
	now := db.Now()
	p := fmt.Sprintf("w%d-", seed)
	exec := func(tx *db.Tx, q string, args ...any) {
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var orgs, users []string
	userOrg := map[string]string{}
	var shares []string
	err := d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
		for i := range 6 {
			o := fmt.Sprintf("%so%d", p, i)
			orgs = append(orgs, o)
			exec(tx, `INSERT INTO orgs (id, name, name_key, kind, created_at) VALUES (?, ?, ?, 'company', 0)`, o, o, o)
			for j := range 2 {
				u := fmt.Sprintf("%s-u%d", o, j)
				users = append(users, u)
				userOrg[u] = o
				exec(tx, `INSERT INTO users (id, org_id, email, name, role, created_at) VALUES (?, ?, ?, ?, 'analyst', 0)`, u, o, u+"@x", u)
			}
		}
		statuses := []string{"active", "active", "active", "pending", "left", "rejected"}
		var comms []string
		for i := range 2 {
			c := fmt.Sprintf("%sc%d", p, i)
			comms = append(comms, c)
			exec(tx, `INSERT INTO communities (id, name, name_key, coordinator_org_id, created_at) VALUES (?, ?, ?, ?, 0)`, c, c, c, orgs[i])
			for _, o := range orgs {
				if r.IntN(3) > 0 {
					exec(tx, `INSERT INTO community_members (community_id, org_id, status, requested_at) VALUES (?, ?, ?, 0)`, c, o, statuses[r.IntN(len(statuses))])
				}
			}
		}
		hour := int64(3600e6)
		validity := func() (int64, any) {
			switch r.IntN(5) {
			case 0:
				return now + hour, nil // not yet valid
			case 1:
				return now - 2*hour, now - hour // expired
			case 2:
				return now - hour, now + hour
			}
			return now - hour, nil
		}
		for i := range 14 {
			g := fmt.Sprintf("%sg%d", p, i)
			from, until := validity()
			status := []string{"active", "active", "active", "proposed", "revoked"}[r.IntN(5)]
			cats := r.IntN(int(policy.AllCategories)) + 1
			tlp := r.IntN(5)
			if r.IntN(2) == 0 {
				a, b := orgs[r.IntN(len(orgs))], orgs[r.IntN(len(orgs))]
				if a == b {
					continue
				}
				exec(tx, `INSERT INTO agreements (id, kind, proposer_org, categories, max_tlp, retention_days, valid_from, valid_until, status, created_at)
					VALUES (?, 'bilateral', ?, ?, ?, 30, ?, ?, ?, 0)`, g, a, cats, tlp, from, until, status)
				for _, o := range []string{a, b} {
					var acc any
					if status == "active" || o == a || r.IntN(2) == 0 {
						acc = now
					}
					exec(tx, `INSERT INTO agreement_parties (agreement_id, org_id, accepted_at) VALUES (?, ?, ?)`, g, o, acc)
				}
			} else {
				c := comms[r.IntN(len(comms))]
				exec(tx, `INSERT INTO agreements (id, kind, community_id, proposer_org, categories, max_tlp, retention_days, valid_from, valid_until, status, created_at)
					VALUES (?, 'charter', ?, ?, ?, ?, 30, ?, ?, ?, 0)`, g, c, orgs[0], cats, tlp, from, until, status)
				for _, o := range orgs {
					if r.IntN(3) > 0 {
						var acc any
						if r.IntN(4) > 0 {
							acc = now
						}
						exec(tx, `INSERT INTO agreement_parties (agreement_id, org_id, accepted_at) VALUES (?, ?, ?)`, g, o, acc)
					}
				}
			}
		}
		kinds := []policy.AudienceKind{policy.AudOrg, policy.AudCommunity, policy.AudOrgs, policy.AudPeople}
		for i := range 250 {
			s := fmt.Sprintf("%ss%d", p, i)
			shares = append(shares, s)
			author := users[r.IntN(len(users))]
			kind := kinds[r.IntN(len(kinds))]
			var comm any
			if kind == policy.AudCommunity {
				comm = comms[r.IntN(len(comms))]
			}
			cat := policy.CategoryList()[r.IntN(7)]
			// Random levels regardless of audience: the predicate must be
			// safe even for envelopes the write check would have refused.
			// Each category its own kind (a kind has one category), in
			// one of four containers, at a random time (for the tallies).
			exec(tx, `INSERT INTO shares (id, kind, owner_org_id, author_id, category, tlp, audience, community_id, created_at, container_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				s, fmt.Sprintf("k%d", cat), userOrg[author], author, int(cat), r.IntN(5), string(kind), comm, r.Int64N(1000)+1, fmt.Sprintf("%sbox%d", p, r.IntN(4)))
			seenO := map[string]bool{}
			for range r.IntN(3) {
				o := orgs[r.IntN(len(orgs))]
				if !seenO[o] {
					seenO[o] = true
					exec(tx, `INSERT INTO share_orgs (share_id, org_id) VALUES (?, ?)`, s, o)
				}
			}
			seenU := map[string]bool{}
			for range 1 + r.IntN(3) {
				u := users[r.IntN(len(users))]
				if !seenU[u] {
					seenU[u] = true
					exec(tx, `INSERT INTO share_people (share_id, user_id) VALUES (?, ?)`, s, u)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error { return policy.RebuildTallyForTest(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
	loaded := map[string]policy.Share{}
	for _, s := range shares {
		sh, err := policy.LoadShareForTest(ctx, d.R(), s)
		if err != nil {
			t.Fatal(err)
		}
		loaded[s] = sh
	}
	visibleCount := 0
	ids := func(pred string, args []any, extra string, extraArgs ...any) map[string]bool {
		rows, err := d.R().Query(ctx, `SELECT s.id FROM shares s WHERE s.id LIKE ? `+extra+` AND `+pred,
			append(append([]any{p + "%"}, extraArgs...), args...)...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]bool{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			out[id] = true
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, u := range users {
		a := policy.Actor{UserID: u, OrgID: userOrg[u], Role: policy.Analyst}
		pred, args := policy.ReferenceForTest("s", a, now)
		byReference := ids(pred, args, "")
		v, err := policy.LoadView(ctx, d.R(), a, now)
		if err != nil {
			t.Fatal(err)
		}
		// The production predicate is given the view's coverage for one
		// category (a kind's): ask per category.
		byView := map[string]bool{}
		for _, c := range policy.CategoryList() {
			pred, args := policy.VisibleForTest("s", v, c)
			for id := range ids(pred, args, "AND s.category = ?", int(c)) {
				byView[id] = true
			}
		}
		checkTally(t, d, seed, a, p, byReference, loaded)
		for _, s := range shares {
			mem := v.CanSee(loaded[s])
			if mem != byReference[s] || mem != byView[s] {
				t.Errorf("seed %d: user %s share %+v: reference SQL says %v, predicate with the view %v, CanSee %v",
					seed, u, loaded[s], byReference[s], byView[s], mem)
			}
			if mem {
				visibleCount++
				if sh := loaded[s]; sh.Owner != userOrg[u] && sh.TLP > policy.Clear {
					classes[fmt.Sprintf("%s/%d", sh.Audience.Kind, sh.TLP)]++
				}
			}
		}
	}
	// The worlds must exercise both answers, or the test proves nothing.
	if visibleCount == 0 || visibleCount == len(users)*len(shares) {
		t.Fatalf("seed %d: degenerate world: %d of %d visible", seed, visibleCount, len(users)*len(shares))
	}
}

func TestValidateAudience(t *testing.T) {
	cases := []struct {
		tlp  policy.TLP
		aud  policy.Audience
		code string
	}{
		{policy.Red, policy.Audience{Kind: policy.AudOrg}, "red_needs_people"},
		{policy.Red, policy.Audience{Kind: policy.AudOrgs, Orgs: []string{"x"}}, "red_needs_people"},
		{policy.Red, policy.Audience{Kind: policy.AudCommunity, Community: "c"}, "tlp_audience_mismatch"},
		{policy.AmberStrict, policy.Audience{Kind: policy.AudCommunity, Community: "c"}, "tlp_audience_mismatch"},
		{policy.Amber, policy.Audience{Kind: policy.AudCommunity}, "community_missing"},
		{policy.Green, policy.Audience{Kind: policy.AudOrgs}, "orgs_missing"},
		{policy.Red, policy.Audience{Kind: policy.AudPeople}, "people_missing"},
		{policy.Amber, policy.Audience{Kind: "everyone"}, "bad_audience"},
		{policy.Red, policy.Audience{Kind: policy.AudPeople, People: []string{"u"}}, ""},
		{policy.Amber, policy.Audience{Kind: policy.AudCommunity, Community: "c"}, ""},
		{policy.AmberStrict, policy.Audience{Kind: policy.AudOrgs, Orgs: []string{"o"}}, ""},
		{policy.Clear, policy.Audience{Kind: policy.AudOrg}, ""},
	}
	for _, c := range cases {
		err := policy.ValidateAudience(c.tlp, c.aud)
		code := ""
		if err != nil {
			code = err.(interface{ Error() string }).Error()
		}
		if (c.code == "") != (err == nil) || (c.code != "" && !strings.Contains(code, c.code)) {
			t.Errorf("%s %+v: got %v, want %q", c.tlp, c.aud, err, c.code)
		}
	}
}

func TestParseTLP(t *testing.T) {
	for in, want := range map[string]policy.TLP{"CLEAR": policy.Clear, "tlp:white": policy.Clear, "green": policy.Green,
		"TLP:AMBER": policy.Amber, "amber+strict": policy.AmberStrict, "AMBER-STRICT": policy.AmberStrict, "Red": policy.Red} {
		got, err := policy.ParseTLP(in)
		if err != nil || got != want {
			t.Errorf("ParseTLP(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "PINK", "TLP:", "AMBER STRICT"} {
		if _, err := policy.ParseTLP(bad); err == nil {
			t.Errorf("ParseTLP(%q) accepted", bad)
		}
	}
}

// checkTally compares the kernel's tally of the world's four containers
// with what the reference predicate lets the reader see in them (count and
// newest), for every category's kind.
func checkTally(t *testing.T, d *db.DB, seed uint64, a policy.Actor, p string, visible map[string]bool, loaded map[string]policy.Share) {
	t.Helper()
	ctx := context.Background()
	k := policy.NewKernel()
	r, err := policy.NewReader(ctx, d.R(), a, db.Now())
	if err != nil {
		t.Fatal(err)
	}
	boxes := []string{p + "box0", p + "box1", p + "box2", p + "box3"}
	type tally struct {
		n    int
		last int64
	}
	for _, c := range policy.CategoryList() {
		kind := k.Register(policy.KindSpec{Name: fmt.Sprintf("k%d", c), Table: fmt.Sprintf("t%d", c), Category: c})
		got, err := r.Tally(ctx, d.R(), kind, boxes)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]tally{}
		rows, err := d.R().Query(ctx, `SELECT id, container_id, created_at FROM shares WHERE kind = ? AND id LIKE ?`, kind.Name(), p+"%")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, box string
			var at int64
			if err := rows.Scan(&id, &box, &at); err != nil {
				t.Fatal(err)
			}
			if visible[id] {
				w := want[box]
				w.n++
				w.last = max(w.last, at)
				want[box] = w
			}
		}
		rows.Close()
		for _, b := range boxes {
			if g := got[b]; g.N != want[b].n || g.Last != want[b].last {
				t.Errorf("seed %d: %s, %s: tally %d (newest %d), predicate %d (newest %d)", seed, a.UserID, b, g.N, g.Last, want[b].n, want[b].last)
			}
		}
	}
}
