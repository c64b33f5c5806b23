package csaf

import (
	"bytes"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// Keys are the OpenPGP public keys a provider's documents are signed with
// (its provider-metadata.json names them; CSAF 2.0 §7.1.19–20).
type Keys openpgp.EntityList

// ReadKeys reads armored public keys.
func ReadKeys(r io.Reader) (Keys, error) {
	l, err := openpgp.ReadArmoredKeyRing(r)
	if err != nil {
		return nil, fmt.Errorf("read OpenPGP keys: %w", err)
	}
	return Keys(l), nil
}

// Verify checks the detached armored signature sig (a provider's .asc
// file) of doc against keys. A refusal is a *Problem (bad_signature).
func Verify(keys Keys, doc, sig []byte) error {
	signer, err := openpgp.CheckArmoredDetachedSignature(openpgp.EntityList(keys), bytes.NewReader(doc), bytes.NewReader(sig), nil)
	if err != nil {
		return problem("bad_signature", "the OpenPGP signature (.asc) does not verify with the given keys: %v", err)
	}
	if signer == nil {
		return problem("bad_signature", "the OpenPGP signature (.asc) names no given key")
	}
	return nil
}
