package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Server is a `verbund serve` child process on a data folder.
type Server struct {
	URL      string
	DebugURL string // the diagnostics listener (metrics)
	PID      int
	Ready    time.Duration // from exec to the first 200 of /readyz
	cmd      *exec.Cmd
	stderr   *tailBuffer
	done     chan struct{}
	waitErr  error
}

// StartServer runs `exe serve` on dataDir with SQLite, listening on a free
// port of 127.0.0.1, and returns once /readyz answers 200. VERBUND_*
// variables of the environment are not passed on, so the child cannot
// wander off to another database.
// extra are further serve flags (e.g. --read-cache 0).
func StartServer(ctx context.Context, exe, dataDir string, extra ...string) (*Server, error) {
	return StartServerOn(ctx, exe, dataDir, "", extra...)
}

// StartServerOn is StartServer on the database dbURL: a postgres:// URL,
// or "" for SQLite in dataDir. Several children may serve one PostgreSQL
// database, as replicas do. The URL reaches the child as VERBUND_DB, not
// as --db: a command line is readable by every user of the machine
// (/proc/<pid>/cmdline), the environment only by the process's owner, and
// the URL may hold a password.
func StartServerOn(ctx context.Context, exe, dataDir, dbURL string, extra ...string) (*Server, error) {
	args := append([]string{"serve", "--data", dataDir, "--addr", "127.0.0.1:0", "--debug-addr", "127.0.0.1:0", "--log-format", "json", "--log-level", "warn"}, extra...)
	cmd := exec.Command(exe, args...) // #nosec G204 -- exe is the verbund binary itself or one the operator names; the arguments are serve flags set by the bench
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VERBUND_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if dbURL != "" {
		cmd.Env = append(cmd.Env, "VERBUND_DB="+dbURL)
	}
	s := &Server{cmd: cmd, stderr: &tailBuffer{max: 16 << 10}, done: make(chan struct{})}
	cmd.Stderr = s.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", exe, err)
	}
	s.PID = cmd.Process.Pid
	urls := make(chan string, 1)
	debug := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "verbund diagnostics: "); ok {
				debug <- strings.TrimSuffix(u, "/metrics and /debug/pprof/")
			}
			if u, ok := strings.CutPrefix(sc.Text(), "verbund is ready: open "); ok {
				urls <- strings.TrimSuffix(u, "/login")
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	select {
	case s.URL = <-urls:
		select {
		case s.DebugURL = <-debug: // printed before the ready line
		default:
		}
	case <-s.done:
		return nil, fmt.Errorf("verbund serve ended before it was ready: %v\n%s", s.waitErr, s.stderr)
	case <-time.After(30 * time.Second):
		_ = s.Stop()
		return nil, fmt.Errorf("verbund serve printed no address within 30 s\n%s", s.stderr)
	case <-ctx.Done():
		_ = s.Stop()
		return nil, ctx.Err()
	}
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := c.Get(s.URL + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.Ready = time.Since(start)
				return s, nil
			}
		}
		if time.Since(start) > 30*time.Second || ctx.Err() != nil {
			_ = s.Stop()
			return nil, fmt.Errorf("/readyz did not answer 200 within 30 s: %v\n%s", err, s.stderr)
		}
		time.Sleep(500 * time.Microsecond)
	}
}

// Stop ends the child (SIGTERM, then SIGKILL after 10 s).
func (s *Server) Stop() error {
	if s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	return nil
}

// Kill ends the child at once (SIGKILL), as a crash would.
func (s *Server) Kill() error {
	if s.cmd.Process == nil {
		return nil
	}
	if err := s.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("kill the hub: %w", err)
	}
	<-s.done
	return nil
}

// Log returns the end of the child's log.
func (s *Server) Log() string { return s.stderr.String() }

// RSS returns the child's resident set size in bytes (VmRSS).
func (s *Server) RSS() (int64, error) { return procStatusKB(s.PID, "VmRSS:") }

// CPU returns the child's user and system CPU time so far.
func (s *Server) CPU() (user, system time.Duration, err error) {
	f, err := procStat(s.PID)
	if err != nil {
		return 0, 0, err
	}
	if len(f) < 13 {
		return 0, 0, errors.New("short /proc/pid/stat")
	}
	return ticks(f, 11), ticks(f, 12), nil
}

const clockTicks = 100 // USER_HZ on Linux

func procStatusKB(pid int, field string) (int64, error) {
	return procStatusKBFile(fmt.Sprintf("/proc/%d/status", pid), field)
}

// procStatusKBFile reads a "Field:   123 kB" line of a /proc file, in bytes.
func procStatusKBFile(path, field string) (int64, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- callers pass fixed /proc paths
	if err != nil {
		return 0, fmt.Errorf("read %s (needs Linux /proc): %w", path, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in %s", field, path)
}

// ownCPU is this process's user+system CPU time.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Metrics scrapes the hub's /metrics for the named unlabelled series.
func Metrics(url string, names ...string) (map[string]float64, error) {
	resp, err := http.Get(url + "/metrics") // the diagnostics listener's
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		for _, n := range names {
			if name == n {
				v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
				if err == nil {
					out[n] = v
				}
			}
		}
	}
	return out, sc.Err()
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

func mb(b int64) float64 { return round2(float64(b) / (1 << 20)) }

// cpuProfile stores a hub's CPU profile over d (its diagnostics
// listener's /debug/pprof/profile) in file.
func cpuProfile(ctx context.Context, debugURL string, d time.Duration, file string) error {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", debugURL, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s from the hub's profiler", resp.Status)
	}
	f, err := os.Create(file) // #nosec G304 -- the operator names the file
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
