package web

import (
	"mime"
	"net/http"
	"net/url"
	"strconv"
)

// ServeDownload answers with a stored file (an article's attachment, an
// incident's evidence) only ever as a download: its bytes are never a page
// of the hub, whatever they hold (octet-stream, attachment, nosniff, a
// sandboxing CSP, not cached). The caller has checked that the reader may
// see it.
func ServeDownload(w http.ResponseWriter, name, sha256 string, content []byte) error {
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	if hd.Get("Content-Disposition") == "" {
		hd.Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(name))
	}
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hd.Set("Cache-Control", "private, no-store")
	hd.Set("Content-Length", strconv.Itoa(len(content)))
	hd.Set("X-Content-SHA256", sha256)
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(content) // #nosec G705 -- a download: application/octet-stream, Content-Disposition attachment, nosniff, a sandboxing CSP
	return err
}

// ServeJSONDocument answers with a stored standard document (a CSAF
// advisory, a CACAO playbook, a VEX export) as a JSON download, byte for
// byte: attachment and nosniff, so it is never rendered as a page of the
// hub. name must be a plain file name (letters, digits, "-", "_", ".").
func ServeJSONDocument(w http.ResponseWriter, name string, doc []byte) error {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	hd.Set("X-Content-Type-Options", "nosniff")
	_, err := w.Write(doc) // #nosec G705 -- a JSON download (attachment, nosniff), never rendered as a page
	return err
}
