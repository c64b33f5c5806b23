package db_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"verbund/internal/db"
)

// TestWALStaysBounded writes about 45 MB in small transactions while
// readers read without pause (what made the log grow without end before:
// the whole 45 MB and more stayed in the log): the log stays near the
// keeper's mark, and once writes stop it is truncated.
func TestWALStaysBounded(t *testing.T) {
	ctx := context.Background()
	d, err := db.Open(ctx, "sqlite:"+t.TempDir()+"/wal.db", "")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Tx(ctx, func(tx *db.Tx) error {
		_, err := tx.Exec(ctx, `CREATE TABLE blobs (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var n int
				if err := d.R().QueryRow(ctx, `SELECT COUNT(*) FROM blobs WHERE id > (SELECT COALESCE(MAX(id), 0) - 50 FROM blobs)`).Scan(&n); err != nil {
					t.Error(err)
					return
				}
				reads.Add(1)
			}
		})
	}
	body := strings.Repeat("x", 16000)
	var most int64
	for i := range 2800 {
		if err := d.Tx(ctx, func(tx *db.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO blobs (body) VALUES (?)`, body)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			most = max(most, d.WAL().Bytes)
		}
	}
	close(stop)
	wg.Wait()
	if reads.Load() == 0 {
		t.Fatal("the readers never read")
	}
	if most > 32<<20 {
		t.Errorf("the log reached %d MB under reads; the keeper checkpoints past 16 MB", most>>20)
	}
	deadline := time.Now().Add(5 * time.Second)
	for d.WAL().Bytes > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if b := d.WAL().Bytes; b > 0 {
		t.Errorf("the log still has %d bytes after writes stopped", b)
	}
	t.Logf("most %d MB; %+v; %d reads", most>>20, d.WAL(), reads.Load())
}
