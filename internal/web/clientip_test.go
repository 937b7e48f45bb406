package web

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	for _, tc := range []struct {
		name   string
		peer   string
		xff    []string
		want   string
		noList bool // with no trusted proxies at all
	}{
		{name: "direct client", peer: "203.0.113.7:5000", want: "203.0.113.7"},
		{name: "direct client sending the header", peer: "203.0.113.7:5000", xff: []string{"198.51.100.1"}, want: "203.0.113.7"},
		{name: "nothing trusted", peer: "10.0.0.2:5000", xff: []string{"198.51.100.1"}, want: "10.0.0.2", noList: true},
		{name: "one proxy", peer: "10.0.0.2:5000", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "forged entries left of the client", peer: "10.0.0.2:5000", xff: []string{"1.1.1.1, 10.9.9.9, 198.51.100.1"}, want: "198.51.100.1"},
		{name: "two proxies", peer: "10.0.0.2:5000", xff: []string{"198.51.100.1, 10.0.0.3"}, want: "198.51.100.1"},
		{name: "header given twice", peer: "10.0.0.2:5000", xff: []string{"1.1.1.1", "198.51.100.1"}, want: "198.51.100.1"},
		{name: "every hop a proxy", peer: "10.0.0.2:5000", xff: []string{"10.0.0.5, 10.0.0.4"}, want: "10.0.0.5"},
		{name: "no header from a proxy", peer: "10.0.0.2:5000", want: "10.0.0.2"},
		{name: "garbage ends the walk", peer: "10.0.0.2:5000", xff: []string{"198.51.100.1, <script>, 10.0.0.3"}, want: "10.0.0.3"},
		{name: "hop with a port", peer: "10.0.0.2:5000", xff: []string{"198.51.100.1:41234"}, want: "198.51.100.1"},
		{name: "IPv6 client", peer: "[2001:db8:ffff::2]:443", xff: []string{"[2001:db8::7]:443"}, want: "2001:db8::7"},
		{name: "IPv4-mapped peer", peer: "[::ffff:10.0.0.2]:5000", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "zoned hop refused", peer: "10.0.0.2:5000", xff: []string{"fe80::1%eth0"}, want: "10.0.0.2"},
		{name: "CR LF and spaces", peer: "10.0.0.2:5000", xff: []string{" 198.51.100.1\r\n"}, want: "198.51.100.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			list := trusted
			if tc.noList {
				list = nil
			}
			if got := ClientIP(r, list); got != tc.want {
				t.Errorf("ClientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWithClientIP(t *testing.T) {
	var seen string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr })
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.2:5000"
	r.Header.Set("X-Forwarded-For", "2001:db8::7")
	WithClientIP([]netip.Prefix{netip.MustParsePrefix("10.0.0.2/32")}, h).ServeHTTP(httptest.NewRecorder(), r)
	if seen != "[2001:db8::7]:0" || r.RemoteAddr != "10.0.0.2:5000" {
		t.Errorf("handler saw %q (caller's request now %q); want [2001:db8::7]:0, the caller's untouched", seen, r.RemoteAddr)
	}
	WithClientIP(nil, h).ServeHTTP(httptest.NewRecorder(), r)
	if seen != "10.0.0.2:5000" {
		t.Errorf("with no trusted proxies the handler saw %q", seen)
	}
}
