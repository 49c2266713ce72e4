package api

import (
	"net"
	"net/http"
	"strings"
)

// clientIP is the address a request came from: the connection's peer, or,
// behind trustedProxies reverse proxies, the address that many hops from
// the right of X-Forwarded-For. Only the proxies' own entries are trusted:
// anything further left is whatever the client chose to send.
func clientIP(r *http.Request, trustedProxies int) string {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = r.RemoteAddr
	}
	if trustedProxies <= 0 {
		return peer
	}
	var chain []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		for _, part := range strings.Split(h, ",") {
			if p := strings.TrimSpace(part); p != "" {
				chain = append(chain, p)
			}
		}
	}
	chain = append(chain, peer)
	i := len(chain) - 1 - trustedProxies
	if i < 0 {
		i = 0 // fewer hops than proxies: the leftmost is the best we have
	}
	if ip := net.ParseIP(chain[i]); ip != nil {
		return ip.String()
	}
	return peer
}
