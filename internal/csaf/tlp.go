package csaf

import (
	"fmt"
	"strings"
)

// Level is a TLP level by its TLP 2.0 name (CLEAR, GREEN, AMBER,
// AMBER+STRICT, RED), as the hub speaks it.
//
// TLPLevel maps a CSAF 2.0 distribution label to it: CSAF 2.0 knows TLP
// 1.0's WHITE, GREEN, AMBER and RED; WHITE is read as CLEAR. "" (no
// label) stays "".
func TLPLevel(label string) (string, error) {
	switch strings.ToUpper(strings.TrimSpace(label)) {
	case "":
		return "", nil
	case "WHITE", "CLEAR":
		return "CLEAR", nil
	case "GREEN":
		return "GREEN", nil
	case "AMBER":
		return "AMBER", nil
	case "RED":
		return "RED", nil
	}
	return "", fmt.Errorf("unknown TLP label %q", label)
}
