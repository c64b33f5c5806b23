package stix

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The official schemas (schemas/README.md) are embedded so the package
// never reads the file system at run time.
//
//go:embed schemas
var schemaFiles embed.FS

// schemaBase is the prefix of the schemas' $id and $ref URLs; the loader
// maps it to the embedded folder, so nothing is fetched.
const schemaBase = "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/"

// maxSchemaErrors caps the errors reported for one object: a failed anyOf
// in the schemas yields one error per branch.
const maxSchemaErrors = 8

// Schemas validates objects against the official STIX 2.1 JSON schemas,
// each against its type's schema (sdos/, sros/, observables/ or common/).
// Types the specification does not define have no schema and pass; they
// still get Validate's common rules. A schema is compiled on first use and
// kept; Schemas is safe for concurrent use.
type Schemas struct {
	mu       sync.Mutex
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema
}

// NewSchemas returns a validator over the embedded schemas.
func NewSchemas() *Schemas {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(embedLoader{})
	// The schemas use "format" for uri, email and idn-hostname: assert
	// them, as the schemas' authors meant them to be checked.
	c.AssertFormat()
	return &Schemas{compiler: c, compiled: map[string]*jsonschema.Schema{}}
}

type embedLoader struct{}

func (embedLoader) Load(url string) (any, error) {
	rel, ok := strings.CutPrefix(url, schemaBase)
	if !ok {
		return nil, fmt.Errorf("%s is not one of the embedded STIX schemas", url)
	}
	f, err := schemaFiles.Open("schemas/" + rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

// schema returns the compiled schema of a type, nil if it has none.
func (s *Schemas) schema(typ string) (*jsonschema.Schema, error) {
	t, ok := specTypes[typ]
	if !ok {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.compiled[typ]; ok {
		return sch, nil
	}
	sch, err := s.compiler.Compile(schemaBase + t.folder + "/" + typ + ".json")
	if err != nil {
		return nil, fmt.Errorf("stix: compiling the schema of %s: %w", typ, err)
	}
	s.compiled[typ] = sch
	return sch, nil
}

// Validate checks an object against its type's schema. It returns nil,
// Errors of code CodeSchema naming the properties at fault, or (only if an
// embedded schema were broken) a plain error.
func (s *Schemas) Validate(o *Object) error {
	sch, err := s.schema(o.typ)
	if err != nil || sch == nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(o.raw))
	if err != nil {
		return &Error{Code: CodeBadJSON, Message: "not valid JSON", Err: err}
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return &Error{Code: CodeSchema, Message: "schema validation failed", Err: err}
	}
	return schemaErrors(ve)
}

// schemaErrors flattens the error tree to its leaves, one per property and
// message.
func schemaErrors(ve *jsonschema.ValidationError) Errors {
	var out Errors
	seen := map[string]bool{}
	var walk func(u *jsonschema.OutputUnit)
	walk = func(u *jsonschema.OutputUnit) {
		if len(u.Errors) == 0 && u.Error != nil {
			prop := strings.ReplaceAll(strings.TrimPrefix(u.InstanceLocation, "/"), "/", ".")
			msg := u.Error.String()
			if k := prop + "\x00" + msg; !seen[k] && len(out) < maxSchemaErrors {
				seen[k] = true
				out = append(out, &Error{Code: CodeSchema, Property: prop, Message: msg + " (" + u.KeywordLocation + ")"})
			}
		}
		for i := range u.Errors {
			walk(&u.Errors[i])
		}
	}
	walk(ve.DetailedOutput())
	if len(out) == 0 {
		out = append(out, &Error{Code: CodeSchema, Message: ve.Error()})
	}
	return out
}
