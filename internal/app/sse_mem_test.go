package app_test

import (
	"bufio"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// BenchmarkSSEIdleMemory measures the hub's live memory per idle live
// stream (figure (c) of docs/PERFORMANCE.md): it opens 1000 streams over
// raw TCP (so that the client side costs next to nothing), forces a
// garbage collection and reports heap and goroutine stack bytes per
// stream. `verbund bench fanout` reports the resident memory of a separate
// hub process, which also holds garbage and allocator slack.
func BenchmarkSSEIdleMemory(b *testing.B) {
	h := apptest.World(b, db.SQLite)
	token := h.Users["sme.analyst"].ReadToken
	addr := strings.TrimPrefix(h.URL, "http://")
	const n = 1000
	var heap, stack float64
	for b.Loop() {
		before := liveMemory()
		conns := make([]net.Conn, 0, n)
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Write([]byte("GET /events HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + token + "\r\nAccept: text/event-stream\r\n\r\n")); err != nil {
				b.Fatal(err)
			}
			rd := bufio.NewReader(c)
			for {
				line, err := rd.ReadString('\n')
				if err != nil {
					b.Fatal(err)
				}
				if strings.HasPrefix(line, ": connected") {
					break
				}
				if strings.HasPrefix(line, "HTTP/1.1 ") && !strings.HasPrefix(line, "HTTP/1.1 200") {
					b.Fatalf("stream: %s", line)
				}
			}
			conns = append(conns, c)
		}
		if got := h.App.Live.Streams(); got != n {
			b.Fatalf("%d subscribers", got)
		}
		after := liveMemory()
		heap += float64(after.HeapAlloc) - float64(before.HeapAlloc)
		stack += float64(after.StackInuse) - float64(before.StackInuse)
		for _, c := range conns {
			c.Close()
		}
		for deadline := time.Now().Add(5 * time.Second); h.App.Live.Streams() > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		h.Server.Client().Transport.(*http.Transport).CloseIdleConnections()
	}
	b.ReportMetric(heap/float64(b.N)/n, "heap-B/stream")
	b.ReportMetric(stack/float64(b.N)/n, "stack-B/stream")
	b.ReportMetric((heap+stack)/float64(b.N)/n, "B/stream")
}

func liveMemory() runtime.MemStats {
	var m runtime.MemStats
	for range 2 {
		runtime.GC()
	}
	time.Sleep(50 * time.Millisecond) // let goroutines that just ended exit
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m
}
