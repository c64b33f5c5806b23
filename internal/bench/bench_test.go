package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

func TestSummarise(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	l := Summarise(d)
	if l.N != 100 || l.MinMS != 1 || l.P50MS != 50 || l.P95MS != 95 || l.P99MS != 99 || l.MaxMS != 100 || l.MeanMS != 50.5 {
		t.Fatalf("%+v", l)
	}
	if (Summarise(nil) != Latencies{}) {
		t.Fatal("empty input")
	}
}

// TestSeedPosts checks that the bulk-seeded posts are what the forum
// itself could have written (each envelope passes ValidateAudience) and
// that the SQL predicate and its in-memory twin agree on them, so that the
// list benchmark measures realistic visibility work.
func TestSeedPosts(t *testing.T) {
	ctx := context.Background()
	d := dbtest.Open(t, db.SQLite)
	w, err := BuildWorld(ctx, d, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := SeedPosts(ctx, d, w.Population(), 3000, 6)
	if err != nil {
		t.Fatal(err)
	}
	if s.Posts != 3000 || len(s.Threads) != 5 || s.InternalThread == "" {
		t.Fatalf("%+v", s)
	}
	var ids []string
	rows, err := d.R().Query(ctx, `SELECT id FROM shares WHERE kind = 'post' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) != 3000 {
		t.Fatalf("%d post shares", len(ids))
	}
	now := db.Now()
	seen := map[string]int{}
	for i, id := range ids {
		sh := loadShare(t, d, id)
		if err := policy.ValidateAudience(sh.TLP, sh.Audience); err != nil {
			t.Fatalf("post %d: %+v: %v", i, sh, err)
		}
		if i%10 != 0 {
			continue
		}
		for _, reader := range []string{"sme.analyst", "sme.viewer", "cloud.analyst", "cert.analyst", "nocontract.analyst", "outsider.analyst"} {
			a := w.Users[reader].Actor
			v, err := policy.LoadView(ctx, d.R(), a, now)
			if err != nil {
				t.Fatal(err)
			}
			r, err := policy.NewReader(ctx, d.R(), a, now)
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Envelope(ctx, d.R(), w.Posts, id)
			if err != nil && !errors.Is(err, fault.ErrNotFound) {
				t.Fatal(err)
			}
			sql := err == nil
			if mem := v.CanSee(sh); mem != sql {
				t.Fatalf("%s, post %+v: SQL says %v, CanSee %v", reader, sh, sql, mem)
			}
			if sql {
				seen[reader]++
			}
		}
	}
	// 300 posts sampled: sme sees most of them, outsiders only TLP:CLEAR.
	if seen["sme.analyst"] < 240 || seen["outsider.analyst"] > 45 || seen["outsider.analyst"] == 0 || seen["sme.viewer"] >= seen["sme.analyst"] {
		t.Fatalf("visible per reader: %v", seen)
	}
	if testing.Verbose() {
		t.Logf("visible per reader (of 300): %v", seen)
	}
}

// loadShare reads a seeded envelope straight from the tables, whoever may
// see it.
func loadShare(t *testing.T, d *db.DB, id string) policy.Share {
	t.Helper()
	ctx := context.Background()
	var s policy.Share
	if err := d.R().QueryRow(ctx, `SELECT id, kind, owner_org_id, author_id, category, tlp, audience, COALESCE(community_id, ''), created_at
		FROM shares WHERE id = ?`, id).Scan(&s.ID, &s.Kind, &s.Owner, &s.Author, &s.Category, &s.TLP, &s.Audience.Kind, &s.Audience.Community, &s.CreatedAt); err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct {
		q    string
		into *[]string
	}{{`SELECT org_id FROM share_orgs WHERE share_id = ? ORDER BY org_id`, &s.Audience.Orgs}, {`SELECT user_id FROM share_people WHERE share_id = ? ORDER BY user_id`, &s.Audience.People}} {
		rows, err := d.R().Query(ctx, l.q, id)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			*l.into = append(*l.into, v)
		}
		rows.Close()
	}
	return s
}
