// Package stix reads, checks and writes STIX 2.1 content. It is a pure
// library: no database, no imports from the rest of verbund, so the TAXII
// server, the importer and tests can all use it alone.
//
// What it offers:
//
//   - Object keeps an object's JSON exactly as it came (custom x_ properties,
//     extensions and unknown types survive a round trip) and reads the common
//     properties on demand.
//   - Decoder streams the objects of a bundle of any size, one at a time; a
//     bad object is reported (*ObjectError) and the stream goes on. Encoder
//     writes a bundle the same way.
//   - Validate checks the rules of the specification the schemas cannot
//     express (id prefix, timestamp precision, ordering of timestamps,
//     indicator patterns …); Schemas checks objects against the official JSON
//     schemas, which are embedded.
//   - SCOID computes the deterministic id of a cyber-observable (UUIDv5 over
//     the RFC 8785 form of its id contributing properties).
//   - The TLP 1.0 and 2.0 marking definitions with their fixed ids, and
//     ResolveTLP, the most restrictive TLP of an object's markings.
//   - ParsePattern, a complete parser for the STIX patterning language, and
//     Pattern.Observables, the simple observables of an indicator for lookups.
//
// Errors carry a stable Code (see errors.go) so callers can map them to their
// own error type without parsing messages.
package stix
