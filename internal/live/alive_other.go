//go:build !linux

package live

import "net"

// connAlive cannot look without blocking here: a client that went away is
// noticed when the next heartbeat fails to write.
func connAlive(net.Conn) bool { return true }
