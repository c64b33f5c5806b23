package forum

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"verbund/internal/policy"
	"verbund/internal/web"
)

// Pages of posts append their own JSON (package jsonenc); the answer must
// be encoding/json's, byte for byte, for every post: any field empty or
// not, every audience, text with escapes, HTML and bytes that are no
// UTF-8.
func TestPostsAppendEncodingJSONs(t *testing.T) {
	texts := []string{"", "Patch now", `"quoted" \ <b>bold</b> & more`, "Zeile\nzwei\tTab", "\x00\x1f\u2028", "bad \xff", "Grüße 🛡️"}
	rng := rand.New(rand.NewPCG(1, 2))
	text := func() string { return texts[rng.IntN(len(texts))] }
	list := func() []string {
		switch rng.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		return []string{text(), text()}
	}
	audiences := []policy.AudienceKind{policy.AudOrg, policy.AudOrgs, policy.AudCommunity, policy.AudPeople}
	categories := []policy.Category{policy.Incident, policy.Knowledge, policy.Incident | policy.Knowledge, 0}
	for n := range 2000 {
		posts := make([]Post, rng.IntN(4))
		for i := range posts {
			posts[i] = Post{ID: text(), ThreadID: text(), ThreadTitle: text(), Body: text(),
				Share: policy.Share{ID: text(), Kind: text(), Owner: text(), Author: text(),
					Category: categories[rng.IntN(len(categories))], TLP: policy.TLP(rng.IntN(int(policy.Red) + 1)),
					Audience:  policy.Audience{Kind: audiences[rng.IntN(len(audiences))], Community: text(), Orgs: list(), People: list()},
					CreatedAt: rng.Int64N(1 << 53), Container: text()},
				AuthorName: text(), OrgName: text(), CreatedAt: rng.Int64N(1 << 53), EditedAt: rng.Int64N(3) * rng.Int64N(1<<53),
				Revisions: rng.IntN(3), NotDeliveredTo: list(), AudienceNames: list()}
		}
		if n%2 == 0 {
			posts = nil
		}
		next := text()
		got, err := web.ListJSON(posts, next)
		if err != nil {
			t.Fatal(err)
		}
		items := posts
		if items == nil {
			items = []Post{}
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(true)
		if err := enc.Encode(web.List[Post]{Items: items, Next: next}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("page %d:\n got %s\nwant %s", n, got, want.Bytes())
		}
	}
}

// A post whose level is out of range is refused by encoding/json; the
// page then goes through encoding/json and says so.
func TestPostsWithBadLevelAreRefused(t *testing.T) {
	if _, err := web.ListJSON([]Post{{Share: policy.Share{TLP: 99}}}, ""); err == nil {
		t.Error("a post with TLP 99 was encoded")
	}
}

// A struct that embeds a Post inherits its AppendJSON, which knows only the
// post's fields: its pages go through encoding/json, with its own fields.
func TestEmbeddedPostsKeepTheirFields(t *testing.T) {
	type hit struct {
		Post
		Score int `json:"score"`
	}
	items := []hit{{Post: Post{ID: "p1", Share: policy.Share{TLP: policy.Green, Audience: policy.Audience{Kind: policy.AudOrg}}}, Score: 7}}
	got, err := web.ListJSON(items, "")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(web.List[hit]{Items: items})
	if string(got) != string(want)+"\n" {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
