package app_test

import (
	"net/http"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
)

func TestSmokeAmberToCircle(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) { smoke(t, e) })
	}
}

func smoke(t *testing.T, e db.Dialect) {
	h := apptest.World(t, e)
	sme := h.Users["sme.analyst"]
	r := h.API(t, sme.WriteToken, "POST", "/api/v1/channels/"+h.CircleChannel+"/threads",
		map[string]any{"title": "VPN", "body": "seen it", "tlp": "AMBER", "audience": "community"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var out struct {
		Thread struct{ ID string }
		Post   struct{ ID string }
	}
	r.JSON(t, &out)
	for user, want := range map[string]int{"cert.analyst": 200, "cloud.viewer": 200, "sme.viewer": 200, "outsider.admin": 404, "nocontract.analyst": 404} {
		got := h.API(t, h.Users[user].ReadToken, "GET", "/api/v1/posts/"+out.Post.ID, nil)
		if got.Status != want {
			t.Errorf("%s: status %d want %d", user, got.Status, want)
		}
	}
}
