package app_test

import (
	"context"
	"testing"
	"time"

	"verbund/internal/forum"
)

// BenchmarkForumOperations measures the forum's service calls on the data
// of bench mixed (20,000 posts over 200 threads, SQLite), as sme.analyst:
// a list of 50 threads with each one's visible post count, 50 posts of a
// thread, 50 posts of the feed, and a reply.
func BenchmarkForumOperations(b *testing.B) {
	h, s := seededWorld(b, 20000, 200)
	ctx := context.Background()
	a := h.Users["sme.analyst"].Actor
	b.Run("threads50", func(b *testing.B) {
		for b.Loop() {
			ts, _, err := h.App.Forum.FindThreads(ctx, a, h.CircleChannel, "", 50)
			if err != nil || len(ts) != 50 {
				b.Fatal(len(ts), err)
			}
		}
	})
	b.Run("posts50", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := h.App.Forum.FindPosts(ctx, a, forum.ListFilter{Thread: s.Threads[0], Limit: 50}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("feed50", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := h.App.Forum.FindPosts(ctx, a, forum.ListFilter{Limit: 50}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The feed while another analyst replies without pause: the cold
	// path of the mix, where every write changes what the feed shows.
	b.Run("feed50-writing", func(b *testing.B) {
		stop := make(chan struct{})
		done := make(chan struct{})
		w := h.Users["cloud.analyst"].Actor
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := h.App.Forum.CreatePost(ctx, w, s.Threads[1], forum.NewPost{Body: "reply"}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
		for b.Loop() {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if _, _, err := h.App.Forum.FindPosts(rctx, a, forum.ListFilter{Limit: 50}); err != nil {
				b.Fatal(err)
			}
			cancel()
		}
		close(stop)
		<-done
	})
	b.Run("reply", func(b *testing.B) {
		for b.Loop() {
			if _, err := h.App.Forum.CreatePost(ctx, a, s.Threads[0], forum.NewPost{Body: "reply"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
