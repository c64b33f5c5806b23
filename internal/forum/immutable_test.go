package forum

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestKeptRowsNeverChange: the forum keeps rows in memory that it takes to
// be fixed once written: a channel's row with its circle's and org's
// names (usableChannel), and a thread's envelope and title in the thread
// cache (a thread is created and deleted, both records that drop its
// entry). Code that changes one of them would make the kept copies stale
// without anybody noticing; this test names the statement instead, so
// that whoever adds it makes the caches follow the change (a record that
// touches the channel or the thread) and extends this list's reasons.
func TestKeptRowsNeverChange(t *testing.T) {
	forbidden := map[string]*regexp.Regexp{
		"a channel changed":          regexp.MustCompile(`(?i)\b(UPDATE\s+channels|DELETE\s+FROM\s+channels)\b`),
		"a thread's title changed":   regexp.MustCompile(`(?i)UPDATE\s+threads\s+SET\s+[^;]*\btitle\b`),
		"a circle renamed":           regexp.MustCompile(`(?i)UPDATE\s+communities\s+SET\s+[^;]*\bname\b`),
		"an org renamed":             regexp.MustCompile(`(?i)UPDATE\s+orgs\s+SET\s+[^;]*\bname\b`),
		"a thread's envelope shared": regexp.MustCompile(`\.threads\.(Reshare|Withdraw)\(`),
	}
	// A thread's deletion withdraws its envelope (edit.go), with its
	// record touching the thread: allowed there.
	allowed := map[string]string{"a thread's envelope shared": filepath.Join("internal", "forum", "edit.go")}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, ".sql") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path) // #nosec G304 -- the repository's own files
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for what, re := range forbidden {
			if re.Match(b) && allowed[what] != rel {
				t.Errorf("%s: %s (%s); the forum keeps these rows in memory: make its caches follow the change", rel, what, re.Find(b))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
