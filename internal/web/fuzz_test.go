package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
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
