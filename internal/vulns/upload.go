package vulns

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"path"
	"strings"

	"verbund/internal/csaf"
	"verbund/internal/fault"
	"verbund/internal/web"
)

// maxUpload bounds one upload of many documents (a provider's folder).
const maxUpload = 256 << 20

// upload is what a multipart upload carries: its form fields and its
// documents, each paired with the .sha256/.sha512 files sent beside it.
type upload struct {
	fields map[string]string
	inputs []Input
}

// readUpload reads a multipart body: short fields (tlp, audience,
// community_id), and files. A file named X.sha256 or X.sha512 is the
// digest of the file X sent in the same upload; every other file is a
// document. A document larger than csaf.MaxDocument is kept to be
// refused by name, without being read whole.
func readUpload(w http.ResponseWriter, r *http.Request) (upload, error) {
	up := upload{fields: map[string]string{}}
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		return up, fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
	}
	digests := map[string]map[string]string{} // document name → algorithm → hex
	signatures := map[string][]byte{}         // document name → its .asc
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return up, fault.New(fault.TooLarge, "upload_too_large", "the upload is larger than {limit} MiB: send fewer documents at a time").With("limit", maxUpload>>20)
			}
			return up, fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
		}
		if part.FileName() == "" {
			b, err := io.ReadAll(io.LimitReader(part, 1024))
			if err != nil {
				return up, fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
			}
			if !web.ValidText(string(b)) {
				return up, fault.BadInput(part.FormName(), "bad_text", "the input contains bytes or values that are not valid text (for example a NUL character)")
			}
			up.fields[part.FormName()] = strings.TrimSpace(string(b))
			continue
		}
		name := fileName(part)
		data, err := io.ReadAll(io.LimitReader(part, csaf.MaxDocument+1))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return up, fault.New(fault.TooLarge, "upload_too_large", "the upload is larger than {limit} MiB: send fewer documents at a time").With("limit", maxUpload>>20)
			}
			return up, fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
		}
		if len(data) > csaf.MaxDocument {
			_, _ = io.Copy(io.Discard, part) // refused by its size below, not read into memory
		}
		if base, found := strings.CutSuffix(name, ".asc"); found {
			signatures[base] = data
			continue
		}
		if base, alg, ok := digestOf(name); ok {
			if digests[base] == nil {
				digests[base] = map[string]string{}
			}
			digests[base][alg] = firstField(string(data))
			continue
		}
		up.inputs = append(up.inputs, Input{Name: name, Data: data})
	}
	for i, in := range up.inputs {
		if d := digests[in.Name]; d != nil {
			up.inputs[i].SHA256, up.inputs[i].SHA512 = d["sha256"], d["sha512"]
		}
		up.inputs[i].Signature = signatures[in.Name]
	}
	return up, nil
}

// fileName is the name a file part was sent with, with its folders (a
// browser sends them for a folder upload) but never a way out of them.
func fileName(p *multipart.Part) string {
	n := strings.ReplaceAll(p.FileName(), `\`, "/")
	n = path.Clean("/" + n)[1:]
	if !web.ValidText(n) || n == "" {
		return "document"
	}
	return n
}

// digestOf reads "X.json.sha512" as the SHA-512 of "X.json".
func digestOf(name string) (base, alg string, ok bool) {
	for _, a := range []string{"sha256", "sha512"} {
		if b, found := strings.CutSuffix(name, "."+a); found {
			return b, a, true
		}
	}
	return "", "", false
}

// firstField is the digest in a digest file: "HEX  name" or "HEX".
func firstField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return "-"
	}
	return f[0]
}
