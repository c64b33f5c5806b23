package cacao

import (
	"bytes"
	"embed"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The official schemas (schemas/README.md) are embedded so the package
// never reads the file system at run time.
//
//go:embed schemas
var schemaFiles embed.FS

// schemaBase is the prefix of the schemas' $id URLs; the loader maps it to
// the embedded folder, so nothing is fetched.
const schemaBase = "https://raw.githubusercontent.com/oasis-open/cacao-json-schemas/main/schemas/"

// maxSchemaErrors caps the schema errors reported for one document: a
// failed anyOf yields one error per branch.
const maxSchemaErrors = 8

// Validator checks documents against the compiled playbook schema and the
// semantic rules. Build it once (NewValidator compiles the schema) and share
// it: it is safe for concurrent use.
type Validator struct {
	schema *jsonschema.Schema
}

// NewValidator compiles the embedded playbook schema.
func NewValidator() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.UseLoader(embedLoader{})
	sch, err := c.Compile(schemaBase + "playbook.json")
	if err != nil {
		return nil, fmt.Errorf("cacao: compiling the playbook schema: %w", err)
	}
	return &Validator{schema: sch}, nil
}

type embedLoader struct{}

func (embedLoader) Load(url string) (any, error) {
	rel, ok := strings.CutPrefix(url, schemaBase)
	if !ok {
		return nil, fmt.Errorf("%s is not one of the embedded CACAO schemas", url)
	}
	f, err := schemaFiles.Open("schemas/" + rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

// Check decodes a document and validates it: JSON, then the schema, then
// the semantic rules. It returns the playbook, or Errors (each naming the
// field or step at fault) and no playbook.
func (v *Validator) Check(data []byte) (*Playbook, error) {
	p, err := Decode(data)
	if err != nil {
		return nil, Errors{asError(err)}
	}
	if err := v.Validate(p); err != nil {
		return nil, err
	}
	return p, nil
}

// Validate runs the schema and the semantic rules on a decoded playbook.
// The semantic rules run even when the schema fails, so one report names
// every problem; spec_version is checked first and alone, since a document
// of another version is not read further, and so are the Limits, since a
// document beyond them is not worth the rest of the work.
func (v *Validator) Validate(p *Playbook) error {
	if p.SpecVersion != SpecVersion {
		return Errors{{Code: CodeSpecVersion, Field: "spec_version", Message: fmt.Sprintf("is %q; only %q is supported", p.SpecVersion, SpecVersion)}}
	}
	if errs := Limits(p); len(errs) > 0 {
		return errs
	}
	var errs Errors
	inst := p.tree
	if inst == nil {
		var err error
		if inst, err = jsonschema.UnmarshalJSON(bytes.NewReader(p.raw)); err != nil {
			return Errors{{Code: CodeBadJSON, Message: "not valid JSON", Err: err}}
		}
	}
	if err := v.schema.Validate(inst); err != nil {
		errs = append(errs, schemaErrors(err)...)
	}
	errs = append(errs, Semantic(p)...)
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func asError(err error) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return &Error{Code: CodeBadJSON, Message: "not valid JSON", Err: err}
}

// schemaErrors flattens the validator's error tree to its leaves, one per
// location and message.
func schemaErrors(err error) Errors {
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return Errors{{Code: CodeSchema, Message: "schema validation failed", Err: err}}
	}
	var out Errors
	seen := map[string]bool{}
	var walk func(u *jsonschema.OutputUnit)
	walk = func(u *jsonschema.OutputUnit) {
		if len(u.Errors) == 0 && u.Error != nil {
			field := strings.ReplaceAll(strings.TrimPrefix(u.InstanceLocation, "/"), "/", ".")
			msg := u.Error.String()
			if k := field + "\x00" + msg; !seen[k] && len(out) < maxSchemaErrors {
				seen[k] = true
				out = append(out, &Error{Code: CodeSchema, Field: field, Message: msg})
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
