// Package web serves the console's pages: the first-boot setup wizard, the
// custodians' unseal page, the page where an invitee accepts an invitation,
// and the signed-in console (one document at /console and every path under
// it; its script routes with the History API and calls the JSON API).
// Assets are embedded; nothing is fetched from elsewhere, so the pages work
// on an appliance with no internet.
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
// password, by reset link or replacing an initial one), /console and
// /console/* (the console: a signed-in state lives in the browser tab, so
// the server answers every console path with the same document and the
// script decides between sign-in and the page asked for) and /assets/*.
// The API's router decides who reaches / and who is sent to /setup or
// /unseal instead, since it knows the appliance's state; / itself leads to
// the console.
func Handler() http.Handler {
	root, _ := fs.Sub(static, "static")
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/":
			http.Redirect(w, r, "/console", http.StatusFound)
		case r.URL.Path == "/console" || strings.HasPrefix(r.URL.Path, "/console/"):
			http.ServeFileFS(w, r, root, "console.html")
		case r.URL.Path == "/setup" || r.URL.Path == "/unseal" || r.URL.Path == "/accept" || r.URL.Path == "/reset":
			http.ServeFileFS(w, r, root, strings.TrimPrefix(r.URL.Path, "/")+".html")
		case strings.HasPrefix(r.URL.Path, "/assets/"):
			files.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}
