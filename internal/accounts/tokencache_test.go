package accounts_test

import (
	"testing"

	"verbund/internal/accounts"
)

// TestChangesTokens: the records that may change what a token stands for
// are every record of a token, user or org but the named harmless ones,
// and every change of everything; sign-ins (anyone can cause a failed
// one) do not empty the token cache.
func TestChangesTokens(t *testing.T) {
	for _, c := range []struct {
		action, object, touches string
		want                    bool
	}{
		{"token.revoke", "token", "", true},
		{"user.update", "user", "*", true},
		{"user.update", "user", "", true},
		{"org.update", "org", "", true},
		{"user.some_new_action", "user", "", true},
		{"agreement.revoke", "agreement", "*", true},
		{"auth.login.failed", "user", "", false},
		{"auth.login", "user", "", false},
		{"token.create", "token", "", false},
		{"user.password", "user", "", false},
		{"forum.post.create", "post", "thread:x,channel:y,feed", false},
	} {
		if got := accounts.ChangesTokens(c.action, c.object, c.touches); got != c.want {
			t.Errorf("ChangesTokens(%q, %q, %q) = %v, want %v", c.action, c.object, c.touches, got, c.want)
		}
	}
}
