package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/opt"
	"github.com/gatehouse/gatehouse/internal/web"
)

// decodeTarget has the field shapes the API decodes into.
type decodeTarget struct {
	Email    *string                       `json:"email"`
	Name     opt.Value[string]             `json:"name"`
	Verified *bool                         `json:"email_verified"`
	Meta     map[string]string             `json:"metadata"`
	Patch    opt.Value[map[string]*string] `json:"patch"`
	Limit    int                           `json:"limit"`
}

// FuzzDecodeJSON feeds DecodeJSON arbitrary bodies and content types: it
// must not panic, must refuse with a public 4xx error (that WriteError
// turns into a JSON body), and may accept only an empty body or a single
// JSON object within the size limit.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []struct{ ct, body string }{
		{"application/json", `{"email":"ada@example.com","name":null,"metadata":{"a":"b"},"patch":{"k":null}}`},
		{"", ``}, {"application/json", `{"email":`}, {"application/json", `[]`}, {"application/json", `{} {}`},
		{"application/json", `{"email":42}`}, {"application/json", `{"metadata":{"n":1}}`}, {"application/json", `{"limit":1e400}`},
		{"text/plain", `{}`}, {"application/x-www-form-urlencoded", `email=x`}, {"application/json; charset=\"", `{}`},
		{"application/vnd.api+json", `{"email_verified":true}`}, {"application/json", "\xef\xbb\xbf{}"},
		{"application/json", `{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`},
		{"application/json", `{"email":"\u0000","name":"\ud800"}`}, {"application/json", " \n\t{}\n "},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		var v decodeTarget
		err := web.DecodeJSON(w, req, &v)
		if err != nil {
			e, ok := errs.As(err)
			if !ok || e.Message == "" {
				t.Fatalf("DecodeJSON error %v is not a public error", err)
			}
			web.WriteError(w, req, logger, err)
			switch w.Code {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
			default:
				t.Fatalf("DecodeJSON error %v answers %d", err, w.Code)
			}
			var out map[string]any
			if json.Unmarshal(w.Body.Bytes(), &out) != nil || out["message"] == "" {
				t.Fatalf("error body %q", w.Body.String())
			}
			return
		}
		if len(body) > web.MaxBodyBytes {
			t.Fatalf("accepted a %d-byte body", len(body))
		}
		trimmed := bytes.TrimSpace(body)
		if len(trimmed) > 0 && (trimmed[0] != '{' || !json.Valid(trimmed)) {
			t.Fatalf("accepted %q, which is not one JSON object", body)
		}
	})
}

var safeID = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// FuzzRequestID: the request ID in the response and the context is always
// safe to log and echo, and is the incoming one exactly when that is safe.
func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"", "trace-abc-123", "bad id\"<script>", "short", "x\r\nX-Injected: 1", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, incoming string) {
		var seen string
		h := web.WithRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = web.RequestID(r.Context()) }))
		req := httptest.NewRequest("GET", "/", nil)
		req.Header["X-Request-Id"] = []string{incoming}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		got := w.Header().Get("X-Request-ID")
		if got != seen || !safeID.MatchString(got) {
			t.Fatalf("incoming %q: header %q, context %q", incoming, got, seen)
		}
		if (got == incoming) != safeID.MatchString(incoming) {
			t.Fatalf("incoming %q: kept = %v", incoming, got == incoming)
		}
	})
}

// FuzzClientIP feeds ClientIP arbitrary peers and X-Forwarded-For values
// behind a trusted 10.0.0.0/8. It must not panic; from an untrusted peer
// the answer is the peer; otherwise it is the peer or an address named in
// the header, and every entry right of the one chosen is a trusted proxy.
func FuzzClientIP(f *testing.F) {
	for _, s := range [][2]string{
		{"203.0.113.7:5000", "198.51.100.1"},
		{"10.0.0.2:5000", "1.1.1.1, 198.51.100.1, 10.0.0.3"},
		{"10.0.0.2:5000", "[2001:db8::7]:443,fe80::1%eth0"},
		{"[::ffff:10.0.0.2]:80", "10.0.0.9,,\xff, 10.1.1.1"},
		{"garbage", "198.51.100.1"},
	} {
		f.Add(s[0], s[1])
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", xff)
		got := web.ClientIP(r, trusted)
		p, err := netip.ParseAddrPort(peer)
		if err != nil || p.Addr().Zone() != "" {
			return // not an address a listener reports
		}
		peerAddr := p.Addr().Unmap()
		if !peerAddr.IsValid() || !trusted[0].Contains(peerAddr) {
			if got != peerAddr.String() {
				t.Fatalf("untrusted peer %q with header %q: ClientIP = %q, want the peer", peer, xff, got)
			}
			return
		}
		if got == peerAddr.String() {
			return
		}
		hops := strings.Split(xff, ",")
		for i := len(hops) - 1; i >= 0; i-- {
			h := strings.TrimSpace(hops[i])
			a, err := netip.ParseAddr(h)
			if err != nil {
				ap, perr := netip.ParseAddrPort(h)
				if perr != nil {
					break
				}
				a = ap.Addr()
			}
			if a.Unmap().String() == got {
				return
			}
			if !trusted[0].Contains(a.Unmap()) {
				break
			}
		}
		t.Fatalf("peer %q, header %q: ClientIP = %q, which is neither the peer nor the nearest untrusted hop", peer, xff, got)
	})
}
