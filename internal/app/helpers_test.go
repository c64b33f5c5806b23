package app_test

import (
	"net/http"
	"testing"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/audit"
)

func accountsToken() accounts.NewToken { return accounts.NewToken{Name: "matrix", Scope: "read"} }

func accountsTokenExpiring(d string) accounts.NewToken {
	return accounts.NewToken{Name: "expiring", Scope: "write", Expires: d}
}

// auditRecords reads the newest audit records user's org may read.
func auditRecords(t *testing.T, h *apptest.Hub, user string) []audit.Record {
	t.Helper()
	var page struct{ Items []audit.Record }
	r := h.API(t, h.Users[user].ReadToken, http.MethodGet, "/api/v1/audit?limit=500", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("audit as %s: %d %s", user, r.Status, r.Body)
	}
	r.JSON(t, &page)
	return page.Items
}
