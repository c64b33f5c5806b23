// Package i18n holds verbund's user-interface messages in English and German and
// formats dates and numbers the way readers of each language expect.
//
// The catalogues are flat JSON objects (en.json, de.json) mapping dotted keys
// such as "nav.forum" to messages. Messages may contain named placeholders
// like "{name}" that T fills from name/value argument pairs. The shared keys
// (layout, navigation, error pages, TLP, audiences …) live in catalog/; each
// capability keeps its own keys in its own folder (internal/forum/i18n) and
// adds them with Catalog.Add when it registers. Load and Add refuse
// catalogues whose key sets or placeholder sets differ, and Add a key that
// is already defined, so such mistakes fail at start-up and in tests. Fault
// messages are the keys "fault.<code>" (see Catalog.Fault).
package i18n

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

//go:embed catalog/en.json catalog/de.json
var catalogFS embed.FS

// DefaultLanguage is used for unknown or unsupported languages.
const DefaultLanguage = "en"

// Languages returns the supported language codes, the default first.
func Languages() []string { return []string{"en", "de"} }

// Normalize maps a language tag ("de", "de-AT", "DE_de", "en-GB") to a supported
// language code, falling back to DefaultLanguage.
func Normalize(tag string) string {
	if l := matchTag(tag); l != "" {
		return l
	}
	return DefaultLanguage
}

// matchTag returns the supported language whose code equals the primary subtag
// of tag, or "" if none does.
func matchTag(tag string) string {
	primary, _, _ := strings.Cut(strings.TrimSpace(tag), "-")
	primary, _, _ = strings.Cut(primary, "_")
	switch strings.ToLower(primary) {
	case "en":
		return "en"
	case "de":
		return "de"
	}
	return ""
}

// Catalog holds the parsed messages of every supplied language. It is
// read-only once the hub has started (Add is for start-up) and then safe for
// concurrent use.
type Catalog struct {
	msgs map[string]map[string]string // lang → key → message
	keys []string                     // sorted
}

// Load parses the embedded shared catalogues (layout, navigation, error
// pages, TLP, audiences …) and checks that they agree. Capabilities add
// their own keys with Add.
func Load() (*Catalog, error) {
	return load(catalogFS, "catalog")
}

func load(fsys fs.FS, dir string) (*Catalog, error) {
	msgs, err := parse(fsys, dir)
	if err != nil {
		return nil, err
	}
	c := &Catalog{msgs: msgs}
	for k := range c.msgs[DefaultLanguage] {
		c.keys = append(c.keys, k)
	}
	slices.Sort(c.keys)
	return c, nil
}

// parse reads dir/<lang>.json for every language and checks that they agree.
func parse(fsys fs.FS, dir string) (map[string]map[string]string, error) {
	msgs := make(map[string]map[string]string)
	for _, lang := range Languages() {
		name := path.Join(dir, lang+".json")
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("i18n: %w", err)
		}
		m, err := parseFlat(data)
		if err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", name, err)
		}
		msgs[lang] = m
	}
	if err := check(msgs); err != nil {
		return nil, err
	}
	return msgs, nil
}

// Add merges a capability's own catalogue (dir/en.json and dir/de.json in
// fsys) into c, so that a capability brings its texts in its own folder. The
// fragment must pass the checks Load applies, and none of its keys may exist
// already: every key has one home. Add changes nothing when it fails. It is
// for start-up (a capability's Register), before c is shared.
func (c *Catalog) Add(fsys fs.FS, dir string) error {
	msgs, err := parse(fsys, dir)
	if err != nil {
		return err
	}
	var dups []string
	for k := range msgs[DefaultLanguage] {
		if c.Has(k) {
			dups = append(dups, k)
		}
	}
	if len(dups) > 0 {
		slices.Sort(dups)
		return fmt.Errorf("i18n: %s: %d key(s) defined twice: %s", dir, len(dups), strings.Join(dups, ", "))
	}
	for _, lang := range Languages() {
		maps.Copy(c.msgs[lang], msgs[lang])
	}
	for k := range msgs[DefaultLanguage] {
		c.keys = append(c.keys, k)
	}
	slices.Sort(c.keys)
	return nil
}

// check reports keys present in one language but not another, and keys whose
// placeholder sets differ between languages.
func check(msgs map[string]map[string]string) error {
	var errs []error
	langs := Languages()
	ref := msgs[langs[0]]
	for _, lang := range langs[1:] {
		other := msgs[lang]
		if miss := missing(ref, other); len(miss) > 0 {
			errs = append(errs, fmt.Errorf("i18n: %d key(s) missing in %s.json: %s", len(miss), lang, strings.Join(miss, ", ")))
		}
		if miss := missing(other, ref); len(miss) > 0 {
			errs = append(errs, fmt.Errorf("i18n: %d key(s) missing in %s.json: %s", len(miss), langs[0], strings.Join(miss, ", ")))
		}
		var keys []string
		for k := range ref {
			if _, ok := other[k]; ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			a, b := placeholders(ref[k]), placeholders(other[k])
			if !slices.Equal(a, b) {
				errs = append(errs, fmt.Errorf("i18n: key %q: placeholders differ: %s has {%s}, %s has {%s}",
					k, langs[0], strings.Join(a, "}, {"), lang, strings.Join(b, "}, {")))
			}
		}
	}
	return errors.Join(errs...)
}

// missing returns the sorted keys of a that are not in b.
func missing(a, b map[string]string) []string {
	var out []string
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

var (
	keyRE         = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)+$`)
	placeholderRE = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

// placeholders returns the sorted, de-duplicated placeholder names of msg.
func placeholders(msg string) []string {
	var out []string
	for _, m := range placeholderRE.FindAllStringSubmatch(msg, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// parseFlat decodes a flat JSON object of string values, rejecting duplicate
// keys (which encoding/json would silently merge), malformed keys, empty
// messages and nested values.
func parseFlat(data []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("catalog must be a JSON object")
	}
	m := make(map[string]string)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string) // object keys are always strings
		tok, err = dec.Token()
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		msg, ok := tok.(string)
		switch {
		case !ok:
			return nil, fmt.Errorf("key %q: value must be a string", key)
		case !keyRE.MatchString(key):
			return nil, fmt.Errorf("key %q: keys are dotted lower-case words like \"nav.forum\"", key)
		case strings.TrimSpace(msg) == "":
			return nil, fmt.Errorf("key %q: empty message", key)
		}
		if _, dup := m[key]; dup {
			return nil, fmt.Errorf("key %q: duplicate key", key)
		}
		m[key] = msg
	}
	if _, err := dec.Token(); err != nil { // closing '}'
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after catalog object")
	}
	return m, nil
}

// Has reports whether key exists (in every language, as Load guarantees).
func (c *Catalog) Has(key string) bool {
	_, ok := c.msgs[DefaultLanguage][key]
	return ok
}

// Keys returns all message keys, sorted. The caller may modify the result.
func (c *Catalog) Keys() []string { return slices.Clone(c.keys) }

// T returns the message for key in lang, with placeholders filled from args,
// which are name/value pairs: T("de", "app.signed_in_as", "name", "Eva", "org", "CERT Süd").
//
// Unsupported languages fall back to English (tags like "de-AT" are accepted).
// An unknown key yields "!!key!!" so that missing translations are visible and
// testable. A placeholder without a matching argument is left as "{name}".
// Values are formatted for lang: integers with thousands separators (pass a
// string to avoid that, e.g. for identifiers), floats via FormatNumber with as
// many decimals as needed, time.Time via FormatTime in its own location,
// fmt.Stringer and error via their methods, anything else via fmt.Sprint.
// T does not escape HTML; html/template escapes the result when it is rendered.
func (c *Catalog) T(lang, key string, args ...any) string {
	msg, ok := c.msgs[Normalize(lang)][key]
	if !ok {
		return "!!" + key + "!!"
	}
	if len(args) < 2 || !strings.Contains(msg, "{") {
		return msg
	}
	var b strings.Builder
	b.Grow(len(msg) + 16)
	for {
		i := strings.IndexByte(msg, '{')
		if i < 0 {
			b.WriteString(msg)
			break
		}
		j := strings.IndexByte(msg[i:], '}')
		if j < 0 {
			b.WriteString(msg)
			break
		}
		name := msg[i+1 : i+j]
		if v, ok := lookupArg(args, name); ok {
			b.WriteString(msg[:i])
			b.WriteString(formatArg(lang, v))
		} else {
			b.WriteString(msg[:i+j+1])
		}
		msg = msg[i+j+1:]
	}
	return b.String()
}

func lookupArg(args []any, name string) (any, bool) {
	for i := 0; i+1 < len(args); i += 2 {
		if n, ok := args[i].(string); ok && n == name {
			return args[i+1], true
		}
	}
	return nil, false
}

func formatArg(lang string, v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int:
		return FormatInt(lang, int64(v))
	case int8:
		return FormatInt(lang, int64(v))
	case int16:
		return FormatInt(lang, int64(v))
	case int32:
		return FormatInt(lang, int64(v))
	case int64:
		return FormatInt(lang, v)
	case uint:
		return formatUint(lang, uint64(v))
	case uint8:
		return formatUint(lang, uint64(v))
	case uint16:
		return formatUint(lang, uint64(v))
	case uint32:
		return formatUint(lang, uint64(v))
	case uint64:
		return formatUint(lang, v)
	case float32:
		return FormatNumber(lang, float64(v), -1)
	case float64:
		return FormatNumber(lang, v, -1)
	case time.Time:
		return FormatTime(lang, v, v.Location())
	case fmt.Stringer:
		return v.String()
	case error:
		return v.Error()
	}
	return fmt.Sprint(v)
}
