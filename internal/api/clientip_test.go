package api

import (
	"net/http/httptest"
	"testing"
)

func TestClientIP(t *testing.T) {
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted int
		want    string
	}{
		{"direct", "203.0.113.9:5555", nil, 0, "203.0.113.9"},
		{"header ignored without trusted proxies", "203.0.113.9:5555", []string{"198.51.100.1"}, 0, "203.0.113.9"},
		{"one proxy", "10.0.0.2:443", []string{"198.51.100.1"}, 1, "198.51.100.1"},
		{"spoofed entry left of the real one", "10.0.0.2:443", []string{"1.2.3.4, 198.51.100.1"}, 1, "198.51.100.1"},
		{"two proxies", "10.0.0.2:443", []string{"198.51.100.1, 10.0.0.3"}, 2, "198.51.100.1"},
		{"headers split over lines", "10.0.0.2:443", []string{"198.51.100.1", "10.0.0.3"}, 2, "198.51.100.1"},
		{"fewer hops than proxies", "10.0.0.2:443", nil, 2, "10.0.0.2"},
		{"garbage entry", "10.0.0.2:443", []string{"not-an-ip"}, 1, "10.0.0.2"},
		{"ipv6", "[2001:db8::2]:443", []string{"2001:db8::1"}, 1, "2001:db8::1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, h := range tc.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			if got := clientIP(r, tc.trusted); got != tc.want {
				t.Errorf("clientIP = %q, want %q", got, tc.want)
			}
		})
	}
}
