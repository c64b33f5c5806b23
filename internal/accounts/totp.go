package accounts

import (
	"context"

	"verbund/internal/auth"
	"verbund/internal/db"
	"verbund/internal/policy"
)

// PendingTOTP returns the secret of a set-up the actor started but has
// not yet confirmed with a code, and its otpauth URI ("" when there is
// none), so that a wrong code does not throw the scanned secret away.
func (s *Service) PendingTOTP(ctx context.Context, a policy.Actor) (secret, uri string, err error) {
	var email string
	var enabled int
	if err := s.DB.R().QueryRow(ctx, `SELECT email, totp_secret, totp_enabled FROM users WHERE id = ?`, a.UserID).Scan(&email, &secret, &enabled); err != nil {
		return "", "", db.NotFound(err, "load user")
	}
	if enabled != 0 || secret == "" {
		return "", "", nil
	}
	return secret, auth.TOTPURI(secret, "verbund", email), nil
}
