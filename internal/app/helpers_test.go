package app_test

import (
	"encoding/json"

	"verbund/internal/accounts"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func accountsToken() accounts.NewToken { return accounts.NewToken{Name: "matrix", Scope: "read"} }

func accountsTokenExpiring(d string) accounts.NewToken {
	return accounts.NewToken{Name: "expiring", Scope: "write", Expires: d}
}
