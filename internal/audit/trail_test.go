package audit_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/policy"
)

// TestTrailAgreesWithTheLog: the records a Trail serves from memory are
// the ones the log holds, for ranges asked for in any order by readers at
// once, while records are written, and after it forgot its oldest (it
// keeps 50 here).
func TestTrailAgreesWithTheLog(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		write := func(n int) {
			for i := range n {
				touches := []string{"thread:a"}
				if i%7 == 0 {
					touches = nil // everything
				}
				if err := d.Tx(ctx, func(tx *db.Tx) error {
					return audit.Write(ctx, tx, policy.Actor{UserID: "u", OrgID: "o", Via: "api"},
						audit.Entry{Action: "test.write", ObjectType: "post", ObjectID: "p", Touches: touches})
				}); err != nil {
					t.Fatal(err)
				}
			}
		}
		write(30)
		tr := audit.NewTrailForTest(d, 50)
		rng := rand.New(rand.NewPCG(1, 2))
		var mu sync.Mutex // rng
		check := func() {
			st, err := tr.State(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			to := st.Head - rng.Int64N(min(st.Head, 5))
			from := to - rng.Int64N(min(to, 60)+1)
			mu.Unlock()
			got, err := tr.Changes(ctx, from, to)
			if err != nil {
				t.Error(err)
				return
			}
			want, err := audit.Changes(ctx, d.R(), from, to)
			if err != nil {
				t.Error(err)
				return
			}
			if !slices.Equal(got, want) {
				t.Errorf("(%d, %d]: the trail says %v, the log %v", from, to, got, want)
			}
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 100 {
					check()
				}
			})
		}
		write(120)
		wg.Wait()
		for range 50 {
			check()
		}
	})
}

// TestTrailStateOncePerRequest: within a context from Remember the state
// is read once (a record written meanwhile is not seen); outside, at every
// call.
func TestTrailStateOncePerRequest(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		write := func() {
			if err := d.Tx(ctx, func(tx *db.Tx) error {
				return audit.Write(ctx, tx, policy.Actor{UserID: "u", OrgID: "o", Via: "api"}, audit.Entry{Action: "test.write"})
			}); err != nil {
				t.Fatal(err)
			}
		}
		tr := audit.NewTrail(d)
		write()
		req := audit.Remember(ctx)
		first, err := tr.State(req)
		if err != nil || first.Head != 1 {
			t.Fatalf("state %+v, %v", first, err)
		}
		write()
		if again, _ := tr.State(req); again.Head != first.Head {
			t.Errorf("within one request the state moved: %d → %d", first.Head, again.Head)
		}
		if fresh, _ := tr.State(ctx); fresh.Head != 2 {
			t.Errorf("outside a request the state is %d, want 2", fresh.Head)
		}
	})
}

// TestTrailSharesStateReadsThatBeginLater: requests share state reads,
// but a request never takes a read that had begun before it asked (it
// could miss a change acknowledged just before): it waits for the next,
// which every request asking meanwhile shares.
func TestTrailSharesStateReadsThatBeginLater(t *testing.T) {
	tr := audit.NewTrail(nil)
	began := make(chan int64, 10)
	release := make(chan struct{}, 10)
	var reads int64
	var mu sync.Mutex
	tr.SetReadState(func(ctx context.Context) (audit.State, error) {
		mu.Lock()
		reads++
		n := reads
		mu.Unlock()
		began <- n
		<-release
		return audit.State{Head: n}, nil
	})
	ask := func() chan int64 {
		got := make(chan int64, 1)
		go func() {
			st, err := tr.State(audit.Remember(context.Background()))
			if err != nil {
				t.Error(err)
			}
			got <- st.Head
		}()
		return got
	}
	a := ask()
	if n := <-began; n != 1 {
		t.Fatalf("read %d began, want the first", n)
	}
	b, c := ask(), ask() // while the first read runs
	for deadline := time.Now().Add(time.Minute); tr.NextTakers() < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) { // a hang, not a timing
			t.Fatal("the requests asking during the first read do not wait for the next")
		}
	}
	release <- struct{}{}
	if got := <-a; got != 1 {
		t.Fatalf("the first request got the state of read %d, want 1", got)
	}
	if n := <-began; n != 2 {
		t.Fatalf("read %d began, want the second", n)
	}
	release <- struct{}{}
	if gb, gc := <-b, <-c; gb != 2 || gc != 2 {
		t.Fatalf("the requests that asked during the first read got reads %d and %d, want both the second", gb, gc)
	}
	select {
	case n := <-began:
		t.Fatalf("a read %d more began, want two reads for three requests", n)
	case <-time.After(50 * time.Millisecond):
	}
}
