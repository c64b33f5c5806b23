//go:build linux

package live

import (
	"errors"
	"net"
	"syscall"
)

// connAlive looks, without blocking, whether the client has closed c: a
// read of zero bytes is the end of the stream. Bytes a client sends on a
// live stream are read and discarded (it has nothing to say).
func connAlive(c net.Conn) bool {
	// A TLS close is still a TCP end: look there.
	sc, ok := netConn(c).(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := true
	var buf [512]byte
	err = raw.Read(func(fd uintptr) bool {
		for range 64 { // a client that keeps sending is still there
			n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_DONTWAIT)
			switch {
			case n > 0:
				continue // discard
			case errors.Is(err, syscall.EINTR):
				continue
			case errors.Is(err, syscall.EAGAIN):
				return true // nothing to read: still open
			default:
				alive = false // 0 bytes without error (end) or a socket error
				return true
			}
		}
		return true
	})
	return alive && err == nil
}
