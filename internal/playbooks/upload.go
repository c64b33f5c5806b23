package playbooks

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"path"
	"strings"

	"verbund/internal/fault"
	"verbund/internal/web"
)

// maxUpload bounds one upload of many playbooks.
const maxUpload = 64 << 20

type upload struct {
	fields map[string]string
	inputs []Input
}

// readUpload reads a multipart body: short fields (tlp, audience,
// community_id) and files, each file a document. A document larger than
// MaxDocument is kept to be refused by name, without being read whole.
func readUpload(w http.ResponseWriter, r *http.Request) (upload, error) {
	up := upload{fields: map[string]string{}}
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		return up, fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
	}
	tooLarge := func(err error) error {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fault.New(fault.TooLarge, "playbooks_upload_too_large", "the upload is larger than {limit} MiB: send fewer playbooks at a time").With("limit", maxUpload>>20)
		}
		return fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return up, nil
		}
		if err != nil {
			return up, tooLarge(err)
		}
		if part.FileName() == "" {
			b, err := io.ReadAll(io.LimitReader(part, 1024))
			if err != nil {
				return up, tooLarge(err)
			}
			if !web.ValidText(string(b)) {
				return up, fault.BadInput(part.FormName(), "bad_text", "the input contains bytes or values that are not valid text (for example a NUL character)")
			}
			up.fields[part.FormName()] = strings.TrimSpace(string(b))
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, MaxDocument+1))
		if err != nil {
			return up, tooLarge(err)
		}
		if len(data) > MaxDocument {
			_, _ = io.Copy(io.Discard, part) // refused by its size, not read into memory
		}
		up.inputs = append(up.inputs, Input{Name: fileName(part), Data: data})
	}
}

// fileName is the name a file part was sent with, never a way out of its
// folder.
func fileName(p *multipart.Part) string {
	n := strings.ReplaceAll(p.FileName(), `\`, "/")
	n = path.Clean("/" + n)[1:]
	if !web.ValidText(n) || n == "" {
		return "document"
	}
	return n
}
