package i18n_test

import (
	"testing"

	"verbund/internal/i18n"
	"verbund/internal/i18n/i18ntest"
)

func load(t *testing.T) *i18n.Catalog {
	t.Helper()
	c, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNoUntranslatedGerman(t *testing.T) { i18ntest.NoUntranslatedGerman(t, load(t)) }

// TestGermanStyle checks formal address and the glossary's terms.
func TestGermanStyle(t *testing.T) { i18ntest.GermanStyle(t, load(t)) }
