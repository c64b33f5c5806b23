package app_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/bench"
	"verbund/internal/db"
	"verbund/internal/forum"
)

// BenchmarkListPosts is figure (b) of docs/PERFORMANCE.md in-process: the
// list of 50 posts with 100,000 posts stored (SQLite), for sme.analyst who
// sees about 88 % of them. "http" goes through the API over loopback with a
// bearer token (authentication, visibility predicate, JSON); "service" is
// the forum call alone. `verbund bench list` measures the same with the hub
// in its own process and reports throughput and percentiles.
func BenchmarkListPosts(b *testing.B) {
	h, s := seededWorld(b, 100000, 10)
	ctx := context.Background()
	token := h.Users["sme.analyst"].ReadToken
	actor := h.Users["sme.analyst"].Actor
	cases := []struct {
		name, path string
		f          forum.ListFilter
	}{
		{"thread", "/api/v1/threads/" + s.Threads[0] + "/posts?limit=50", forum.ListFilter{Thread: s.Threads[0], Limit: 50}},
		{"feed", "/api/v1/posts?limit=50", forum.ListFilter{Limit: 50}},
	}
	for _, c := range cases {
		b.Run("http/"+c.name, func(b *testing.B) {
			client := h.Server.Client()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodGet, h.URL+c.path, nil)
					req.Header.Set("Authorization", "Bearer "+token)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
	for _, c := range cases {
		b.Run("service/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ps, _, err := h.App.Forum.FindPosts(ctx, actor, c.f)
				if err != nil || len(ps) != 50 {
					b.Fatalf("%d posts, %v", len(ps), err)
				}
			}
		})
	}
}

// seededWorld is the test world on SQLite with posts stored over threads
// as the bench command stores them (bench.SeedPosts).
func seededWorld(b testing.TB, posts, threads int) (*apptest.Hub, bench.Seeded) {
	b.Helper()
	h := apptest.World(b, db.SQLite)
	return h, seedPosts(b, h, posts, threads)
}

// seedPosts stores posts over threads in h's world as the bench command
// stores them (bench.SeedPosts).
func seedPosts(b testing.TB, h *apptest.Hub, posts, threads int) bench.Seeded {
	b.Helper()
	p := bench.Population{Orgs: h.Orgs, Community: h.Circle, CircleChannel: h.CircleChannel, OrgChannel: h.OrgChannel,
		Authors: map[string]string{}, People: map[string][]string{}}
	for k := range h.Orgs {
		p.Authors[k] = h.Users[k+".analyst"].ID
		p.People[k] = []string{h.Users[k+".analyst"].ID, h.Users[k+".admin"].ID}
	}
	p.Threads, p.Posts = h.App.Forum.Kinds()
	s, err := bench.SeedPosts(context.Background(), h.App.DB, p, posts, threads)
	if err != nil {
		b.Fatal(err)
	}
	return s
}
