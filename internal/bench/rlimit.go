package bench

import (
	"fmt"
	"syscall"
)

// raiseOpenFiles lifts this process's soft limit on open files to at least
// n (up to the hard limit). Children started afterwards inherit it, so the
// hub can hold as many streams as the benchmark opens.
func raiseOpenFiles(files int) error {
	if files <= 0 {
		return nil
	}
	n := uint64(files)
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("read the open-file limit: %w", err)
	}
	if l.Cur >= n {
		return nil
	}
	if l.Max < n {
		return fmt.Errorf("the open-file limit is at most %d but %d streams need about %d: raise it (ulimit -Hn) or open fewer", l.Max, n/2, n)
	}
	l.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("raise the open-file limit to %d: %w", n, err)
	}
	return nil
}
