package forum

import (
	"context"
	"strings"
	"testing"

	"verbund/internal/audit"
	"verbund/internal/policy"
)

// TestThreadCacheSkipsALongTrail: the first page after a start (or a long
// pause) does not read the whole audit trail record by record while every
// other page waits: past what the cache remembers it starts afresh.
func TestThreadCacheSkipsALongTrail(t *testing.T) {
	for _, head := range []int64{10, 100_000} {
		read := 0
		c := newThreadCache(nil, 32<<20, 1000, threadCacheSource{
			changes: func(_ context.Context, from, to int64) ([]audit.Change, error) {
				read += int(to - from)
				out := make([]audit.Change, 0, to-from)
				for s := from + 1; s <= to; s++ {
					out = append(out, audit.Change{Seq: s, Touches: "feed", Action: "forum.post.create", ObjectType: "post", ObjectID: "x"})
				}
				return out, nil
			},
		})
		if err := c.catchUp(context.Background(), head); err != nil {
			t.Fatal(err)
		}
		if read > historyLen || c.seen != head {
			t.Errorf("head %d: %d records read, seen %d", head, read, c.seen)
		}
		if head > historyLen && c.floor != head {
			t.Errorf("head %d: an entry read before it could be kept (floor %d)", head, c.floor)
		}
	}
}

// TestPostCostCountsTheJSON: a kept post's estimate covers its JSON, whose
// escapes (\u003c for '<') make it far longer than the text.
func TestPostCostCountsTheJSON(t *testing.T) {
	for _, body := range []string{strings.Repeat("a", 20000), strings.Repeat("<", 20000), strings.Repeat("\x01", 20000), strings.Repeat("\u2028", 20000)} {
		p := Post{ID: "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee", ThreadID: "0190aaaa-bbbb-7ccc-8ddd-ffffffffffff", Body: body, AuthorName: "x", OrgName: "y",
			Share: policy.Share{TLP: policy.Green, Audience: policy.Audience{Kind: policy.AudCommunity}}}
		if err := encodePost(&p); err != nil {
			t.Fatal(err)
		}
		if held := len(p.Body) + len(p.encoded.head) + len(p.encoded.tail); postCost(&p) < held {
			t.Errorf("body %q…: estimated %d bytes, holds %d", body[:3], postCost(&p), held)
		}
	}
}
