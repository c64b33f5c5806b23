package live

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// streamOut is where a stream's bytes go.
type streamOut interface {
	write(b []byte) error
	close()
	// alive reports whether the peer may still be there; false once it
	// has closed the connection.
	alive() bool
}

// connOut is a taken-over HTTP/1.1 connection.
type connOut struct{ c net.Conn }

func (o connOut) write(b []byte) error {
	if err := o.c.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil {
		return err
	}
	_, err := o.c.Write(b)
	return err
}

// close never blocks. Closing a TLS connection sends close_notify first,
// with a 5 s deadline of crypto/tls's own; to a client that has stopped
// reading (the usual reason a stream is ended) that write would block the
// caller, who holds the hub's lock, and with it every stream. The stream
// body ends with the connection anyway, so the TCP connection is closed
// without it.
func (o connOut) close() { _ = netConn(o.c).Close() }

func (o connOut) alive() bool { return connAlive(o.c) }

// netConn is the TCP connection under c (itself unless c is TLS).
func netConn(c net.Conn) net.Conn {
	if t, ok := c.(*tls.Conn); ok {
		return t.NetConn()
	}
	return c
}

// writerOut writes through a ResponseWriter (HTTP/2), whose handler waits.
type writerOut struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (o writerOut) write(b []byte) error {
	_ = o.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if _, err := o.w.Write(b); err != nil {
		return err
	}
	return o.rc.Flush()
}

func (o writerOut) close()      {}
func (o writerOut) alive() bool { return true } // the handler sees the request end
