package app

import (
	"context"
	"embed"
	"net/http"
	"time"

	"verbund/internal/fault"
	"verbund/internal/web"
)

// openapiFS is the base of the OpenAPI document: info, servers, security
// and the components every capability shares (errors, paging, the sharing
// envelope). Each capability adds its own paths and components.
//
//go:embed openapi.json
var openapiFS embed.FS

// registerSystem adds health, readiness and the OpenAPI document
// (apiDoc, merged from the base and every capability's fragment).
func registerSystem(a *App, apiDoc []byte) {
	r := a.Web.Router
	r.Handle("GET /healthz", web.Public, func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, err := w.Write([]byte("ok\n"))
		return err
	})
	r.Handle("GET /readyz", web.Public, func(w http.ResponseWriter, req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
		defer cancel()
		if err := a.DB.Ping(ctx); err != nil {
			return fault.Wrap(fault.Unavailable, "database_unavailable", "the database does not answer", err)
		}
		// Answering reads is not enough to be ready: a full disk or a
		// read-only database fails every write (503 with its own code,
		// e.g. disk_full), and a balancer should send writers elsewhere.
		if err := a.DB.ProbeWrite(ctx); err != nil {
			if _, ok := fault.As(err); ok {
				return err
			}
			return fault.Wrap(fault.Unavailable, "database_unavailable", "the database does not take writes", err)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, err := w.Write([]byte("ready\n"))
		return err
	})
	r.Handle("GET /api/v1/openapi.json", web.Public, func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		_, err := w.Write(apiDoc)
		return err
	})
}
