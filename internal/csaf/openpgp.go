package csaf

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// SigningKey is a provider's OpenPGP key (CSAF 2.0 §7.1.19–20): documents
// are signed with it (detached, armored: the .asc files), its public half
// is published and named by fingerprint in provider-metadata.json.
type SigningKey struct {
	Private     []byte // armored secret key; never served
	Public      []byte // armored public key
	Fingerprint string // hex, upper case
}

// keyConfig makes Ed25519 keys (v4, the form every OpenPGP
// implementation CSAF tools use reads) with SHA-512 signatures.
func keyConfig(now time.Time) *packet.Config {
	return &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, DefaultHash: crypto.SHA512, Time: func() time.Time { return now }}
}

// NewSigningKey makes a signing key for the provider name with the
// contact address email.
func NewSigningKey(name, email string, now time.Time) (SigningKey, error) {
	e, err := openpgp.NewEntity(name, "CSAF", email, keyConfig(now))
	if err != nil {
		return SigningKey{}, fmt.Errorf("make OpenPGP key: %w", err)
	}
	var priv, pub bytes.Buffer
	w, err := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err != nil {
		return SigningKey{}, fmt.Errorf("armor OpenPGP key: %w", err)
	}
	if err := e.SerializePrivate(w, nil); err != nil {
		return SigningKey{}, fmt.Errorf("write OpenPGP key: %w", err)
	}
	if err := w.Close(); err != nil {
		return SigningKey{}, fmt.Errorf("armor OpenPGP key: %w", err)
	}
	if w, err = armor.Encode(&pub, openpgp.PublicKeyType, nil); err != nil {
		return SigningKey{}, fmt.Errorf("armor OpenPGP key: %w", err)
	}
	if err := e.Serialize(w); err != nil {
		return SigningKey{}, fmt.Errorf("write OpenPGP public key: %w", err)
	}
	if err := w.Close(); err != nil {
		return SigningKey{}, fmt.Errorf("armor OpenPGP key: %w", err)
	}
	return SigningKey{Private: priv.Bytes(), Public: pub.Bytes(), Fingerprint: fingerprint(e)}, nil
}

func fingerprint(e *openpgp.Entity) string {
	return strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
}

// Sign makes the detached armored signature of doc with the armored
// secret key private.
func Sign(private, doc []byte) ([]byte, error) {
	l, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(private))
	if err != nil || len(l) != 1 || l[0].PrivateKey == nil {
		return nil, fmt.Errorf("read the provider's OpenPGP key: %v", err)
	}
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, l[0], bytes.NewReader(doc), &packet.Config{DefaultHash: crypto.SHA512}); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sig.Bytes(), nil
}
