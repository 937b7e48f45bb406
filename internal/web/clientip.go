package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the address of the client that sent r. It is the peer's
// address unless the peer is one of trusted (a load balancer or reverse
// proxy in front of Gatehouse). Then X-Forwarded-For is read from the
// right, where each trusted proxy appended the address of its own peer,
// and the first address that is not a trusted proxy is the client. What
// lies left of it came from the client and is ignored, so a client cannot
// choose its address by sending the header itself. If every address is a
// trusted proxy, the leftmost is the client; an entry that is not an
// address ends the walk at the hop before it.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, ok := parseHop(r.RemoteAddr)
	if !ok {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		return host
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		client = a
		if !isTrusted(a, trusted) {
			break
		}
	}
	return client.String()
}

// WithClientIP gives next requests whose RemoteAddr is ClientIP (with
// port 0), so handlers, throttles and logs see the client rather than a
// proxy in front. With no trusted proxies it returns next itself.
func WithClientIP(trusted []netip.Prefix, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := *r
		r2.RemoteAddr = net.JoinHostPort(ClientIP(r, trusted), "0")
		next.ServeHTTP(w, &r2)
	})
}

// parseHop parses an address as proxies write it: bare, or with a port
// ("203.0.113.7:41234", "[2001:db8::1]:443"). IPv4-mapped IPv6 addresses
// become IPv4; zoned ones are refused.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	if a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
