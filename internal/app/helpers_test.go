package app_test

import (
	"verbund/internal/accounts"
)

func accountsToken() accounts.NewToken { return accounts.NewToken{Name: "matrix", Scope: "read"} }

func accountsTokenExpiring(d string) accounts.NewToken {
	return accounts.NewToken{Name: "expiring", Scope: "write", Expires: d}
}
