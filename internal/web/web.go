// Package web serves the console's pages: the first-boot setup wizard, the
// custodians' unseal page and the page where an invitee accepts an
// invitation. Assets are embedded; nothing is fetched from elsewhere, so
// the pages work on an appliance with no internet.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// Handler serves /, /setup, /unseal, /accept, /reset (setting one's own
// password, by reset link or replacing an initial one) and /assets/*. The API's
// router decides who sees / (the front page) and who is sent to /setup or
// /unseal instead, since it knows the appliance's state.
func Handler() http.Handler {
	root, _ := fs.Sub(static, "static")
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/":
			http.ServeFileFS(w, r, root, "index.html")
		case r.URL.Path == "/setup" || r.URL.Path == "/unseal" || r.URL.Path == "/accept" || r.URL.Path == "/reset":
			http.ServeFileFS(w, r, root, strings.TrimPrefix(r.URL.Path, "/")+".html")
		case strings.HasPrefix(r.URL.Path, "/assets/"):
			files.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}
