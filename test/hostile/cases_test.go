package hostile

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authflow"
)

// kind is how an endpoint takes its input.
type kind int

const (
	kAPI        kind = iota // JSON API authenticated with the API key
	kAuthJSON               // POST /user_management/authenticate with a JSON body
	kAuthForm               // POST /user_management/authenticate with a form body
	kPage                   // a browser GET: query parameters, HTML or a redirect
	kHostedForm             // a hosted-page form POST (CSRF cookie and field)
	kAdminForm              // a dashboard form POST (CSRF cookie and field)
	kPlain                  // operations and other GETs
)

func (k kind) json() bool  { return k == kAPI || k == kAuthJSON }
func (k kind) form() bool  { return k == kAuthForm || k == kHostedForm || k == kAdminForm }
func (k kind) isAPI() bool { return k == kAPI || k == kAuthJSON || k == kAuthForm }

// field is one input of an endpoint.
type field struct {
	Name string
	// Type is the JSON type: "" for a string, "bool" or "object".
	Type string
	// Legit lists classes whose values are legitimate here (a password may
	// hold quotes and newlines), so they are not sent as hostile.
	Legit string
}

// endpoint is one route with how to call it.
type endpoint struct {
	Name   string // METHOD and route pattern, for the summary
	Method string
	Path   string // "{}" marks the path segment under test
	Kind   kind
	Fields []field // body fields, or query parameters for GET
	// Base returns fresh values for a case aimed at field ("" for
	// whole-request classes): "{}" is the path segment, and the fields'
	// values (raw JSON for typed fields). A field left out is not sent.
	Base func(t *testing.T, ts *testServer, field string) map[string]string
	// Miss is the path segment for whole-request classes, so that they do
	// not touch a real object ("" for Base's).
	Miss string
	// Accept judges a result the generic checks passed ("" if acceptable).
	Accept func(ts *testServer, c *hcase, r result) string
	// Allowed lists snapshot keys a case may change, given its result.
	Allowed func(r result) []string
	Cookie  string // "hosted" or "admin": send the CSRF cookie
}

// hcase is one hostile request.
type hcase struct {
	E        *endpoint
	Class    string // the payload class
	Field    string // the field it targets, "{}" for the path, "" for the whole request
	JSONVal  string // the field's raw JSON (JSON kinds)
	URLVal   string // the field's percent-encoded value (forms, queries, path)
	Body     []byte // replaces the whole body
	CT       string // replaces the Content-Type ("-": none)
	Header   [][2]string
	Suffix   string // appended to the request target
	MayClose bool   // the HTTP layer may hang up instead of answering
	Want     []int  // exact statuses (the HTTP layer's own answers)
	Code     string // the JSON error code wanted, if Want is set
}

func (c *hcase) name() string {
	if c.Field == "" {
		return c.Class
	}
	return c.Field + "/" + c.Class
}

// caseSeq numbers the values cases insert hostile bytes into.
var caseSeq int

var sqlPayloads = []string{
	`' OR '1'='1' --`,
	`'; DROP TABLE users; --`,
	`" OR ""="`,
	`1); SELECT pg_sleep(5); --`,
	`%' OR email LIKE '%`,
}

const htmlPayload = `"><script>alert(1)</script>`

// jsonEsc escapes s for inside a JSON string.
func jsonEsc(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// cases makes every hostile case of an endpoint.
func (e *endpoint) cases(ts *testServer, t *testing.T) []*hcase {
	var out []*hcase
	add := func(c *hcase) { c.E = e; out = append(out, c) }

	// Whole-request classes, for every endpoint.
	add(&hcase{Class: "oversized-header", Header: [][2]string{{"X-Big", strings.Repeat("b", 80<<10)}}, MayClose: true, Want: []int{431}})
	add(&hcase{Class: "oversized-cookie", Header: [][2]string{{"Cookie", "gh_x=" + strings.Repeat("c", 70<<10)}}, MayClose: true, Want: []int{431}})
	add(&hcase{Class: "header-nul", Header: [][2]string{{"X-Test", "a\x00b"}}, MayClose: true, Want: []int{400}})
	add(&hcase{Class: "header-bare-cr", Header: [][2]string{{"X-Test", "a\rX-Injected: 1"}}, MayClose: true, Want: []int{400}})
	add(&hcase{Class: "control-in-target", Suffix: "\x01\x7f", MayClose: true, Want: []int{400}})
	add(&hcase{Class: "hostile-cookies", Header: [][2]string{{"Cookie", "gh_csrf=' OR 1=1 --; gh_" + ts.Env.ID + "=" + strings.Repeat("x", 200) +
		"; gh_admin='; DROP TABLE admins; --; gh_admin_csrf=\xff\xfe; gh_" + ts.Env.ID + "=%00%0d%0a"}}})
	add(&hcase{Class: "hostile-request-id", Header: [][2]string{{"X-Request-ID", "' OR 1=1 --\xff<script>"}}})
	add(&hcase{Class: "hostile-origin", Header: [][2]string{{"Origin", "https://evil.com"}}})
	if e.Kind == kAPI {
		for _, a := range []string{"Bearer ' OR '1'='1", "Bearer " + strings.Repeat("k", 10<<10), "Bearer sk_test_\xff\xfe", "Basic Zm9vOmJhcg==", "Bearer"} {
			add(&hcase{Class: "hostile-authorization", Header: [][2]string{{"Authorization", a}}, Want: []int{401}, Code: "unauthorized"})
		}
	}
	if e.Path == "/user_management/authenticate" && e.Method == "POST" {
		// The Idempotency-Key header: too long, hostile text, and with a
		// body too large to keep.
		add(&hcase{Class: "idempotency-key-too-long", Header: [][2]string{{"Idempotency-Key", strings.Repeat("k", 300)}}, Want: []int{400}, Code: "invalid_request"})
		add(&hcase{Class: "idempotency-key-hostile", Header: [][2]string{{"Idempotency-Key", "' OR 1=1 --\xff<script>"}}})
		add(&hcase{Class: "idempotency-key-oversized-body", Header: [][2]string{{"Idempotency-Key", "retry-hostile"}},
			Body: []byte("pad=" + strings.Repeat("a", 1<<20)), Want: []int{413}, Code: e.codeFor("request_too_large")})
	}
	if e.Method == "GET" || e.Method == "OPTIONS" {
		add(&hcase{Class: "oversized-query", Suffix: "&pad=" + strings.Repeat("q", 56<<10)})
		add(&hcase{Class: "malformed-query", Suffix: "&%zz=%zz&=&&;&a=%&%00=%00"})
	}

	// Body classes.
	if e.Method == "POST" || e.Method == "PUT" {
		big := strings.Repeat("a", 1<<20)
		switch {
		case e.Kind.json() && len(e.Fields) == 0:
			// The endpoint reads no body: whatever comes is ignored.
			for _, b := range []string{`{"pad":"` + big + `"}`, `{"email":`, `{"a":` + strings.Repeat("[", 100_000), "\xff\xfe"} {
				add(&hcase{Class: "ignored-body", Body: []byte(b)})
			}
		case e.Kind.json():
			status := []int{413}
			add(&hcase{Class: "oversized-body", Body: []byte(`{"pad":"` + big + `"}`), Want: status, Code: e.codeFor("request_too_large")})
			add(&hcase{Class: "malformed-json", Body: []byte(`{"email":`), Want: []int{400}, Code: e.codeFor("invalid_json")})
			add(&hcase{Class: "deep-nesting-open", Body: []byte(`{"a":` + strings.Repeat("[", 100_000)), Want: []int{400}, Code: e.codeFor("invalid_json")})
			add(&hcase{Class: "deep-nesting-closed", Body: []byte(`{"a":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}`), Want: []int{400}, Code: e.codeFor("invalid_json")})
			add(&hcase{Class: "deep-nesting-objects", Body: []byte(strings.Repeat(`{"a":`, 40_000) + "1" + strings.Repeat("}", 40_000)), Want: []int{400}, Code: e.codeFor("invalid_json")})
			for _, b := range []string{`[]`, `"x"`, `null`, `12`} {
				add(&hcase{Class: "not-an-object " + b, Body: []byte(b), Want: []int{400}, Code: e.codeFor("invalid_json")})
			}
			add(&hcase{Class: "trailing-data", Body: []byte(`{} {"email":"x@example.com"}`), Want: []int{400}, Code: e.codeFor("invalid_json")})
			// Found by FuzzDecodeJSON: json.Decoder.More is false before a
			// closing bracket, so trailing ] or } went unnoticed.
			add(&hcase{Class: "trailing-bracket", Body: []byte(`{}}`), Want: []int{400}, Code: e.codeFor("invalid_json")})
			add(&hcase{Class: "trailing-bracket", Body: []byte(`{"email":"x@example.com"}]`), Want: []int{400}, Code: e.codeFor("invalid_json")})
			add(&hcase{Class: "utf8-bom", Body: []byte("\xef\xbb\xbf{}"), Want: []int{400}, Code: e.codeFor("invalid_json")})
			add(&hcase{Class: "invalid-utf8-key", Body: []byte("{\"\xff\xfe\":\"x\"}")})
			add(&hcase{Class: "form-content-type", CT: "application/x-www-form-urlencoded", Body: []byte(`email=x%40example.com`), Want: []int{415, 400, 401}})
			add(&hcase{Class: "text-plain", CT: "text/plain", Body: []byte(`{}`), Want: []int{415}})
			add(&hcase{Class: "bad-media-type", CT: "application/json; charset=\"", Body: []byte(`{}`), Want: []int{415}})
		case e.Kind.form():
			limit := 300 << 10 // over every form limit (16 KiB hosted, 64 KiB admin, 256 KiB authenticate)
			oversized := &hcase{Class: "oversized-body", Body: []byte("pad=" + big[:limit])}
			if e.Kind == kAuthForm { // the token endpoint's own status and code
				oversized.Want, oversized.Code = []int{413}, "invalid_request"
			}
			add(oversized)
			add(&hcase{Class: "malformed-form", Body: []byte("a=%zz&b=%&csrf_token=" + csrf)})
			add(&hcase{Class: "multipart", CT: "multipart/form-data; boundary=x", Body: []byte("--x\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n" + csrf + "\r\n--x--\r\n")})
			add(&hcase{Class: "json-body", CT: "application/json", Body: []byte(`{"csrf_token":"` + csrf + `"}`)})
			add(&hcase{Class: "many-fields", Body: []byte(strings.Repeat("a=1&", 3000) + "csrf_token=" + csrf)})
		}
		add(&hcase{Class: "empty-body", Body: []byte{}})
	}

	// Path segment classes.
	if strings.Contains(e.Path, "{}") {
		vals := []struct{ class, v string }{
			{"nul", "user_%00"}, {"invalid-utf8", "user_%FF%FE"}, {"crlf", "x%0D%0AX-Injected:%201"},
			{"html", url.PathEscape(htmlPayload)}, {"long", strings.Repeat("a", 4000)}, {"traversal", "..%2F..%2Fadmin"},
			{"encoded-slash", "a%2Fb"}, {"encoded-dots", "%2E%2E"}, {"fullwidth", url.PathEscape("ｕｓｅｒ")},
		}
		for i, p := range sqlPayloads {
			vals = append(vals, struct{ class, v string }{fmt.Sprintf("sql-%d", i+1), url.PathEscape(p)})
		}
		for _, v := range vals {
			add(&hcase{Class: v.class, Field: "{}", URLVal: v.v})
		}
	}

	// Field classes.
	jsonBody := e.Kind.json() && (e.Method == "POST" || e.Method == "PUT")
	for _, f := range e.Fields {
		ts.clearThrottles(t)
		base := e.Base(t, ts, f.Name)[f.Name]
		legit := func(class string) bool { return strings.Contains(f.Legit, class) }
		if f.Type != "" {
			if jsonBody {
				wrong := []string{`"yes"`, `1`, `[true]`}
				if f.Type == "object" {
					wrong = []string{`"x"`, `[1]`, `{"k":1}`, `{"k":["v"]}`, "{\"k\":\"\xff\xfe\"}", `{"k":"\u0000"}`, `{"":"v"}`}
				}
				for i, w := range wrong {
					add(&hcase{Class: fmt.Sprintf("wrong-type-%d", i+1), Field: f.Name, JSONVal: w})
				}
			}
			continue
		}
		midBase := base
		if midBase == "" && strings.Contains(f.Name, "email") {
			midBase = "eve@example.com" // so that only the hostile bytes make the address invalid
		}
		mid := func(jsonRaw, urlRaw string) (string, string) {
			base := midBase
			if base == "" {
				return `"` + jsonRaw + `"`, urlRaw
			}
			// A tag unique to the case keeps a wrongly accepted value from
			// colliding with another case's.
			caseSeq++
			tag := fmt.Sprintf("%d", caseSeq)
			return `"` + jsonEsc(base[:1]) + jsonRaw + tag + jsonEsc(base[1:]) + `"`, url.QueryEscape(base[:1]) + urlRaw + tag + url.QueryEscape(base[1:])
		}
		whole := func(s string) (string, string) { return `"` + jsonEsc(s) + `"`, url.QueryEscape(s) }
		type cv struct{ class, j, u string }
		var cvs []cv
		j, u := mid("\xff\xfe", "%FF%FE")
		cvs = append(cvs, cv{"invalid-utf8", j, u})
		j, u = mid(`\u0000`, "%00")
		cvs = append(cvs, cv{"nul", j, u})
		if !legit("crlf") {
			cvs = append(cvs, cv{"crlf", `"` + jsonEsc(base) + `\r\nX-Injected: 1\r\nSet-Cookie: injected=1"`,
				url.QueryEscape(base) + "%0D%0AX-Injected:%201%0D%0ASet-Cookie:%20injected=1"})
		}
		if !legit("sql") {
			for i, p := range sqlPayloads {
				j, u := whole(p)
				cvs = append(cvs, cv{fmt.Sprintf("sql-%d", i+1), j, u})
			}
		}
		if !legit("html") {
			j, u := whole(htmlPayload)
			cvs = append(cvs, cv{"html", j, u})
		}
		j, u = whole(strings.Repeat("a", 10_000))
		cvs = append(cvs, cv{"long", j, u})
		for _, v := range cvs {
			if jsonBody {
				add(&hcase{Class: v.class, Field: f.Name, JSONVal: v.j})
			} else {
				add(&hcase{Class: v.class, Field: f.Name, URLVal: v.u})
			}
		}
		if jsonBody {
			j, _ := mid(`\ud800`, "")
			add(&hcase{Class: "lone-surrogate", Field: f.Name, JSONVal: j})
			for i, w := range []string{`42`, `["x"]`, `{"x":"y"}`, `true`} {
				add(&hcase{Class: fmt.Sprintf("wrong-type-%d", i+1), Field: f.Name, JSONVal: w})
			}
		}
		if e.Kind.form() || e.Method == "GET" {
			// The first value is the one read: the hostile one, before the base.
			add(&hcase{Class: "repeated", Field: f.Name, URLVal: url.QueryEscape(sqlPayloads[0]) + "&" + f.Name + "=" + url.QueryEscape(base)})
		}
	}
	return out
}

// codeFor is the JSON code of a body error: the API's own codes, or the
// OAuth invalid_request on the authenticate endpoint.
func (e *endpoint) codeFor(code string) string {
	if e.Kind == kAuthJSON || e.Kind == kAuthForm {
		return "invalid_request"
	}
	return code
}

// build turns a case into a request, with fresh base values.
func (c *hcase) build(t *testing.T, ts *testServer) request {
	e := c.E
	vals := e.Base(t, ts, c.Field)
	seg := vals["{}"]
	switch {
	case c.Field == "{}":
		seg = c.URLVal
	case c.Field == "" && e.Miss != "":
		seg = e.Miss
	}
	target := strings.Replace(e.Path, "{}", seg, 1)
	var jsonParts, formParts []string
	for _, f := range e.Fields {
		if f.Name == c.Field {
			jsonParts = append(jsonParts, `"`+f.Name+`":`+c.JSONVal)
			formParts = append(formParts, f.Name+"="+c.URLVal)
			continue
		}
		v, ok := vals[f.Name]
		if !ok {
			continue
		}
		if f.Type != "" {
			jsonParts = append(jsonParts, `"`+f.Name+`":`+v)
		} else {
			jsonParts = append(jsonParts, `"`+f.Name+`":"`+jsonEsc(v)+`"`)
		}
		formParts = append(formParts, f.Name+"="+url.QueryEscape(v))
	}
	req := request{Method: e.Method}
	switch {
	case e.Method == "GET" || e.Method == "OPTIONS" || e.Method == "DELETE":
		if len(formParts) > 0 {
			target += "?" + strings.Join(formParts, "&")
		} else if c.Suffix != "" && !strings.HasPrefix(c.Suffix, "\x01") {
			target += "?x=1"
		}
	case e.Kind.json():
		req.Body = []byte("{" + strings.Join(jsonParts, ",") + "}")
		req.Header = append(req.Header, [2]string{"Content-Type", "application/json"})
	case e.Kind.form():
		req.Body = []byte(strings.Join(formParts, "&"))
		req.Header = append(req.Header, [2]string{"Content-Type", "application/x-www-form-urlencoded"})
	default:
		req.Body = []byte{}
	}
	target += c.Suffix
	if c.Body != nil {
		req.Body = c.Body
	}
	if c.CT != "" {
		req.Header = slices.DeleteFunc(req.Header, func(h [2]string) bool { return h[0] == "Content-Type" })
		if c.CT != "-" {
			req.Header = append(req.Header, [2]string{"Content-Type", c.CT})
		}
	}
	if e.Kind == kAPI && !slices.ContainsFunc(c.Header, func(h [2]string) bool { return h[0] == "Authorization" }) {
		req.Header = append(req.Header, [2]string{"Authorization", "Bearer " + ts.Key})
	}
	switch e.Cookie {
	case "hosted":
		req.Header = append(req.Header, [2]string{"Cookie", "gh_csrf=" + csrf})
	case "admin":
		req.Header = append(req.Header, [2]string{"Cookie", "gh_admin_csrf=" + csrf})
	}
	req.Header = append(req.Header, c.Header...)
	req.Target = target
	return req
}

// ---- Accepting results ----

func apiError(r result) string {
	if r.Status < 400 || r.Status >= 500 {
		return fmt.Sprintf("status %d, want a 4xx", r.Status)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return fmt.Sprintf("status %d with Content-Type %q, want a JSON error", r.Status, ct)
	}
	m := r.jsonBody()
	if m == nil {
		return fmt.Sprintf("status %d with a body that is not a JSON object", r.Status)
	}
	msg, _ := m["message"].(string)
	oe, _ := m["error"].(string)
	if msg == "" && oe == "" {
		return "a JSON error without message or error"
	}
	return ""
}

func pageError(r result) string {
	if r.Status < 400 || r.Status >= 500 {
		return fmt.Sprintf("status %d, want a 4xx", r.Status)
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		return fmt.Sprintf("status %d with Content-Type %q, want an HTML page", r.Status, r.Header.Get("Content-Type"))
	}
	return ""
}

func isPage(r result, status int) bool {
	return r.Status == status && strings.HasPrefix(r.Header.Get("Content-Type"), "text/html")
}

func acceptAPI(ts *testServer, c *hcase, r result) string { return apiError(r) }

func acceptPage(ts *testServer, c *hcase, r result) string { return pageError(r) }

// acceptList takes a 4xx, or a list that, when the email filter was
// hostile, is empty.
func acceptList(ts *testServer, c *hcase, r result) string {
	if r.Status != 200 {
		return apiError(r)
	}
	var l struct {
		Object string            `json:"object"`
		Data   []json.RawMessage `json:"data"`
	}
	if json.Unmarshal(r.Body, &l) != nil || l.Object != "list" || l.Data == nil {
		return "200 without a list: " + clip(string(r.Body), 200)
	}
	if c.Field == "email" && len(l.Data) != 0 {
		return fmt.Sprintf("a hostile email filter matched %d users", len(l.Data))
	}
	return ""
}

// restartOrPage takes a 4xx page, or a restart at the app's sign-in
// endpoint when the pending request (or challenge) was hostile.
func restartOr(fields ...string) func(ts *testServer, c *hcase, r result) string {
	return func(ts *testServer, c *hcase, r result) string {
		if r.Status == 302 || r.Status == 303 {
			if loc := r.Header.Get("Location"); loc != signInEndpoint {
				return fmt.Sprintf("%d to %q, want a restart at %s", r.Status, loc, signInEndpoint)
			}
			if !slices.Contains(fields, c.Field) && c.Field != "{}" {
				return fmt.Sprintf("restart at the sign-in endpoint for a hostile %q", c.Field)
			}
			return ""
		}
		return pageError(r)
	}
}

// ---- The endpoints ----

const missingUser = "user_01ARZ3NDEKTSV4RRFFQ69G5FAV"
const missingClient = "client_01ARZ3NDEKTSV4RRFFQ69G5FAV"

func fixed(m map[string]string) func(*testing.T, *testServer, string) map[string]string {
	return func(*testing.T, *testServer, string) map[string]string { return m }
}

func endpoints() []*endpoint {
	bob := func(extra map[string]string) func(t *testing.T, ts *testServer, f string) map[string]string {
		return func(t *testing.T, ts *testServer, f string) map[string]string {
			m := map[string]string{"{}": ts.Bob.ID}
			for k, v := range extra {
				m[k] = v
			}
			return m
		}
	}
	client := func(extra func(t *testing.T, ts *testServer, f string, m map[string]string)) func(t *testing.T, ts *testServer, f string) map[string]string {
		return func(t *testing.T, ts *testServer, f string) map[string]string {
			m := map[string]string{"{}": ts.Env.ClientID}
			if extra != nil {
				extra(t, ts, f, m)
			}
			return m
		}
	}
	withRequest := func(t *testing.T, ts *testServer, f string, m map[string]string) {
		m["request"] = ts.pendingRequest(t)
	}
	verification := func(t *testing.T, ts *testServer) string {
		ch, err := ts.Srv.Flow.StartEmailVerification(t.Context(), ts.Env, ts.Bob, authflow.Client{})
		if err != nil {
			t.Fatal(err)
		}
		return ch.ID
	}
	strs := func(names ...string) []field {
		var out []field
		for _, n := range names {
			out = append(out, field{Name: n})
		}
		return out
	}
	authFields := strs("grant_type", "client_id", "client_secret", "code", "code_verifier", "refresh_token", "email", "password",
		"pending_authentication_token", "organization_id", "ip_address", "user_agent")
	authBase := func(t *testing.T, ts *testServer, f string) map[string]string {
		m := map[string]string{"client_id": ts.Env.ClientID, "client_secret": ts.Key}
		switch f {
		case "code", "code_verifier":
			m["grant_type"], m["code"], m["code_verifier"] = "authorization_code", "bogus-code", strings.Repeat("v", 43)
		case "refresh_token":
			m["grant_type"], m["refresh_token"] = "refresh_token", "bogus-refresh-token"
		case "pending_authentication_token":
			m["grant_type"], m["pending_authentication_token"], m["code"] = "urn:workos:oauth:grant-type:email-verification:code", "bogus", "123456"
		default:
			m["grant_type"], m["email"], m["password"] = "password", nobody, "wrong password 123"
		}
		return m
	}
	authAccept := func(ts *testServer, c *hcase, r result) string {
		if p := apiError(r); p != "" {
			return p
		}
		if r.Status == 200 {
			return "signed in"
		}
		return ""
	}
	hosted := func(name, method string, fields []field, base func(t *testing.T, ts *testServer, f string, m map[string]string), accept func(ts *testServer, c *hcase, r result) string) *endpoint {
		e := &endpoint{Name: method + " /hosted/{client_id}/" + name, Method: method, Path: "/hosted/{}/" + name, Fields: fields,
			Base: client(base), Miss: missingClient, Accept: accept}
		if method == "POST" {
			e.Kind, e.Cookie = kHostedForm, "hosted"
		} else {
			e.Kind = kPage
		}
		return e
	}
	// GET pages render (200) whatever they are given, escaped, or restart.
	getPage := func(restartFields ...string) func(ts *testServer, c *hcase, r result) string {
		return func(ts *testServer, c *hcase, r result) string {
			if isPage(r, 200) {
				return ""
			}
			return restartOr(restartFields...)(ts, c, r)
		}
	}
	hostedFormFields := func(names ...string) []field {
		fs := strs(names...)
		return append(fs, field{Name: "csrf_token"})
	}
	withCSRF := func(extra func(t *testing.T, ts *testServer, f string, m map[string]string)) func(t *testing.T, ts *testServer, f string, m map[string]string) {
		return func(t *testing.T, ts *testServer, f string, m map[string]string) {
			m["csrf_token"] = csrf
			if extra != nil {
				extra(t, ts, f, m)
			}
		}
	}
	adminAccept := func(ts *testServer, c *hcase, r result) string { return pageError(r) }

	return []*endpoint{
		// Users API.
		{Name: "GET /user_management/users", Method: "GET", Path: "/user_management/users", Kind: kAPI,
			Fields: strs("email", "limit", "before", "after", "order", "organization_id"), Base: fixed(map[string]string{"limit": "5"}), Accept: acceptList},
		{Name: "POST /user_management/users", Method: "POST", Path: "/user_management/users", Kind: kAPI,
			Fields: append(strs("email", "password", "password_hash", "password_hash_type", "first_name", "last_name", "name", "external_id"),
				field{Name: "email_verified", Type: "bool"}, field{Name: "metadata", Type: "object"}),
			// Ada's address is taken, so no case can create a user unless its hostile email is accepted.
			Base: fixed(map[string]string{"email": adaEmail}), Accept: acceptAPI},
		{Name: "GET /user_management/users/{id}", Method: "GET", Path: "/user_management/users/{}", Kind: kAPI, Base: bob(nil), Miss: missingUser, Accept: acceptAPI},
		{Name: "PUT /user_management/users/{id}", Method: "PUT", Path: "/user_management/users/{}", Kind: kAPI,
			Fields: append([]field{{Name: "email"}, {Name: "first_name", Legit: "sql html"}, {Name: "last_name", Legit: "sql html"}, {Name: "name", Legit: "sql html"},
				{Name: "external_id", Legit: "sql html"}, {Name: "locale"}, {Name: "password", Legit: "sql html crlf"}, {Name: "password_hash"}, {Name: "password_hash_type"}},
				field{Name: "email_verified", Type: "bool"}, field{Name: "metadata", Type: "object"}),
			Base: bob(nil), Miss: missingUser, Accept: acceptAPI},
		{Name: "DELETE /user_management/users/{id}", Method: "DELETE", Path: "/user_management/users/{}", Kind: kAPI, Base: bob(nil), Miss: missingUser, Accept: acceptAPI},
		{Name: "GET /user_management/users/external_id/{external_id}", Method: "GET", Path: "/user_management/users/external_id/{}", Kind: kAPI,
			Base: fixed(map[string]string{"{}": "nope"}), Accept: acceptAPI},
		{Name: "GET /user_management/users/{id}/sessions", Method: "GET", Path: "/user_management/users/{}/sessions", Kind: kAPI,
			Fields: strs("limit", "before", "after", "order"), Base: bob(nil), Miss: missingUser, Accept: acceptList},
		{Name: "POST /user_management/users/{id}/email_verification/send", Method: "POST", Path: "/user_management/users/{}/email_verification/send", Kind: kAPI,
			Base: bob(nil), Miss: missingUser, Accept: acceptAPI},
		{Name: "POST /user_management/users/{id}/email_verification/confirm", Method: "POST", Path: "/user_management/users/{}/email_verification/confirm", Kind: kAPI,
			Fields: strs("code"), Base: bob(map[string]string{"code": "000000"}), Miss: missingUser, Accept: acceptAPI},
		{Name: "GET /user_management/email_verification/{id}", Method: "GET", Path: "/user_management/email_verification/{}", Kind: kAPI,
			Base: fixed(map[string]string{"{}": "email_verification_01ARZ3NDEKTSV4RRFFQ69G5FAV"}), Accept: acceptAPI},
		{Name: "POST /user_management/password_reset", Method: "POST", Path: "/user_management/password_reset", Kind: kAPI,
			Fields: strs("email"), Base: fixed(map[string]string{"email": nobody}), Accept: acceptAPI},
		{Name: "GET /user_management/password_reset/{id}", Method: "GET", Path: "/user_management/password_reset/{}", Kind: kAPI,
			Base: fixed(map[string]string{"{}": "password_reset_01ARZ3NDEKTSV4RRFFQ69G5FAV"}), Accept: acceptAPI},
		{Name: "POST /user_management/password_reset/confirm", Method: "POST", Path: "/user_management/password_reset/confirm", Kind: kAPI,
			Fields: strs("token", "new_password"), Base: fixed(map[string]string{"token": "bogus-token", "new_password": "a fine new passphrase"}), Accept: acceptAPI},
		{Name: "POST /user_management/magic_auth", Method: "POST", Path: "/user_management/magic_auth", Kind: kAPI,
			Fields: strs("email"), Base: fixed(map[string]string{"email": ""}), Accept: acceptAPI},
		{Name: "GET /user_management/magic_auth/{id}", Method: "GET", Path: "/user_management/magic_auth/{}", Kind: kAPI,
			Base: fixed(map[string]string{"{}": "magic_auth_01ARZ3NDEKTSV4RRFFQ69G5FAV"}), Accept: acceptAPI},
		{Name: "POST /user_management/sessions/revoke", Method: "POST", Path: "/user_management/sessions/revoke", Kind: kAPI,
			Fields: strs("session_id"), Base: fixed(map[string]string{"session_id": "session_01ARZ3NDEKTSV4RRFFQ69G5FAV"}),
			// Revoking an unknown session succeeds (idempotent); the snapshot proves no live session ended.
			Accept: func(ts *testServer, c *hcase, r result) string {
				if r.Status == 200 && strings.Contains(string(r.Body), `"success":true`) {
					return ""
				}
				return apiError(r)
			}},
		{Name: "GET /user_management/{unknown}", Method: "GET", Path: "/user_management/{}", Kind: kPlain, Base: fixed(map[string]string{"{}": "nope"}), Accept: acceptAPI},

		// Authentication.
		{Name: "POST /user_management/authenticate (JSON)", Method: "POST", Path: "/user_management/authenticate", Kind: kAuthJSON,
			Fields: authFields, Base: authBase, Accept: authAccept},
		{Name: "POST /user_management/authenticate (form)", Method: "POST", Path: "/user_management/authenticate", Kind: kAuthForm,
			Fields: authFields, Base: authBase, Accept: authAccept},
		{Name: "OPTIONS /user_management/authenticate", Method: "OPTIONS", Path: "/user_management/authenticate", Kind: kPlain, Base: fixed(nil),
			Accept: func(ts *testServer, c *hcase, r result) string {
				if r.Status == 204 {
					return ""
				}
				return apiError(r)
			}},
		{Name: "GET /sso/jwks/{client_id}", Method: "GET", Path: "/sso/jwks/{}", Kind: kPlain, Base: fixed(map[string]string{"{}": missingClient}), Accept: acceptAPI},

		// Browser flow.
		{Name: "GET /user_management/authorize", Method: "GET", Path: "/user_management/authorize", Kind: kPage,
			Fields: strs("client_id", "redirect_uri", "response_type", "provider", "state", "screen_hint", "login_hint", "code_challenge",
				"code_challenge_method", "connection_id", "organization_id"),
			Base: func(t *testing.T, ts *testServer, f string) map[string]string {
				m := map[string]string{"client_id": ts.Env.ClientID, "redirect_uri": appCallback, "response_type": "code", "provider": "authkit", "state": "st"}
				if f == "code_challenge_method" {
					m["code_challenge"] = strings.Repeat("C", 43)
				}
				if f == "code_challenge" {
					m["code_challenge_method"] = "S256"
				}
				return m
			},
			Accept: func(ts *testServer, c *hcase, r result) string {
				loc := r.Header.Get("Location")
				switch {
				case isPage(r, 400):
					return ""
				case r.Status == 302 && strings.HasPrefix(loc, "/hosted/"+ts.Env.ClientID+"/sign-"):
					return ""
				case r.Status == 302 && strings.HasPrefix(loc, appCallback+"?") && strings.Contains(loc, "error="):
					return ""
				}
				return fmt.Sprintf("%d Location %q: want an error page, an error redirect to the app or the hosted page", r.Status, loc)
			},
			Allowed: func(r result) []string {
				if strings.HasPrefix(r.Header.Get("Location"), "/hosted/") {
					return []string{"auth_requests"}
				}
				return nil
			}},
		{Name: "GET /user_management/sessions/logout", Method: "GET", Path: "/user_management/sessions/logout", Kind: kPage,
			Fields: strs("session_id", "return_to"),
			Base: func(t *testing.T, ts *testServer, f string) map[string]string {
				return map[string]string{"session_id": ts.liveSession(t), "return_to": goodbye}
			},
			Accept: func(ts *testServer, c *hcase, r result) string {
				loc := r.Header.Get("Location")
				switch {
				case isPage(r, 200) && strings.Contains(string(r.Body), "signed out"):
					return ""
				case r.Status == 302 && c.Field == "return_to" && loc == signOutHome:
					return ""
				case r.Status == 302 && c.Field != "return_to" && loc == goodbye:
					return ""
				}
				return fmt.Sprintf("%d Location %q", r.Status, loc)
			},
			Allowed: func(r result) []string { return []string{"sessions.live", "browser_sessions.live"} }},

		// Hosted pages.
		hosted("sign-in", "GET", strs("request"), withRequest, getPage("request")),
		hosted("sign-in", "POST", hostedFormFields("request", "email", "password"),
			withCSRF(func(t *testing.T, ts *testServer, f string, m map[string]string) {
				withRequest(t, ts, f, m)
				m["email"], m["password"] = nobody, "wrong password 123"
			}), restartOr("request")),
		hosted("sign-up", "GET", strs("request"), withRequest, getPage("request")),
		hosted("sign-up", "POST", hostedFormFields("request", "email", "password", "first_name", "last_name"),
			withCSRF(func(t *testing.T, ts *testServer, f string, m map[string]string) {
				withRequest(t, ts, f, m)
				// Ada's address is taken, so only an accepted hostile email can create an account.
				m["email"], m["password"], m["first_name"] = adaEmail, adaPassword, "Eve"
			}), restartOr("request")),
		hosted("verify-email", "GET", strs("request", "verification"), func(t *testing.T, ts *testServer, f string, m map[string]string) {
			withRequest(t, ts, f, m)
			m["verification"] = verification(t, ts)
		}, getPage("request", "verification")),
		hosted("verify-email", "POST", hostedFormFields("request", "verification", "code", "action"),
			withCSRF(func(t *testing.T, ts *testServer, f string, m map[string]string) {
				withRequest(t, ts, f, m)
				m["verification"], m["code"] = verification(t, ts), "000000"
			}), restartOr("request", "verification")),
		hosted("magic", "GET", strs("request"), withRequest, getPage("request")),
		hosted("magic", "POST", hostedFormFields("request", "email"), withCSRF(withRequest), restartOr("request")),
		hosted("magic-code", "GET", strs("request", "email"), func(t *testing.T, ts *testServer, f string, m map[string]string) {
			withRequest(t, ts, f, m)
			m["email"] = nobody
		}, getPage("request")),
		hosted("magic-code", "POST", hostedFormFields("request", "email", "code"),
			withCSRF(func(t *testing.T, ts *testServer, f string, m map[string]string) {
				withRequest(t, ts, f, m)
				m["email"], m["code"] = nobody, "000000"
			}), restartOr("request")),
		hosted("forgot-password", "GET", strs("request"), withRequest, getPage()),
		hosted("forgot-password", "POST", hostedFormFields("request", "email"), withCSRF(withRequest),
			// The same "check your email" answer whether or not the account exists.
			func(ts *testServer, c *hcase, r result) string {
				if isPage(r, 200) && c.Field == "email" && strings.Contains(string(r.Body), "Check your email") {
					return ""
				}
				return pageError(r)
			}),
		hosted("reset-password", "GET", strs("token"), func(t *testing.T, ts *testServer, f string, m map[string]string) {
			m["token"] = "bogus-token"
		}, acceptPage),
		hosted("reset-password", "POST", hostedFormFields("token", "password"),
			withCSRF(func(t *testing.T, ts *testServer, f string, m map[string]string) {
				m["token"], m["password"] = "bogus-token", "a fine new passphrase"
			}), acceptPage),

		// Dashboard.
		{Name: "GET /admin/login", Method: "GET", Path: "/admin/login", Kind: kPage, Fields: strs("next"), Base: fixed(map[string]string{"next": "/admin/"}),
			Accept: func(ts *testServer, c *hcase, r result) string {
				if isPage(r, 200) && !strings.Contains(string(r.Body), "DROP") && !strings.Contains(string(r.Body), "injected") {
					return ""
				}
				return pageError(r)
			}},
		{Name: "POST /admin/login", Method: "POST", Path: "/admin/login", Kind: kAdminForm, Cookie: "admin",
			Fields: hostedFormFields("email", "password", "next"),
			Base:   fixed(map[string]string{"email": nobody, "password": "wrong password 123", "next": "/admin/", "csrf_token": csrf}), Accept: adminAccept},
		{Name: "POST /admin/login/totp", Method: "POST", Path: "/admin/login/totp", Kind: kAdminForm, Cookie: "admin",
			Fields: hostedFormFields("ticket", "code", "next"),
			Base:   fixed(map[string]string{"ticket": "v1.bogus", "code": "000000", "next": "/admin/", "csrf_token": csrf}), Accept: adminAccept},
		{Name: "GET /admin/login/{token}", Method: "GET", Path: "/admin/login/{}", Kind: kPage, Base: fixed(map[string]string{"{}": "bogus-token"}), Accept: adminAccept},
		{Name: "GET /admin/setup/{token}", Method: "GET", Path: "/admin/setup/{}", Kind: kPage, Base: fixed(map[string]string{"{}": "bogus-token"}),
			Accept: func(ts *testServer, c *hcase, r result) string {
				if isPage(r, 200) {
					return ""
				}
				return pageError(r)
			}},
		{Name: "POST /admin/setup/{token}", Method: "POST", Path: "/admin/setup/{}", Kind: kAdminForm, Cookie: "admin",
			Fields: hostedFormFields("password", "confirm_password"),
			Base:   fixed(map[string]string{"{}": "bogus-token", "password": "a fine new passphrase", "confirm_password": "a fine new passphrase", "csrf_token": csrf}),
			Accept: adminAccept},
		{Name: "GET /admin/env/{env}/users (signed out)", Method: "GET", Path: "/admin/env/{}/users", Kind: kPage, Fields: strs("q", "after", "before"),
			Base: func(t *testing.T, ts *testServer, f string) map[string]string {
				return map[string]string{"{}": ts.Env.ID}
			},
			Accept: func(ts *testServer, c *hcase, r result) string {
				if r.Status == 303 && strings.HasPrefix(r.Header.Get("Location"), "/admin/login") {
					return ""
				}
				return pageError(r)
			}},

		// Operations.
		{Name: "GET /healthz", Method: "GET", Path: "/healthz", Kind: kPlain, Fields: strs("x"), Base: fixed(nil), Accept: want200},
		{Name: "GET /readyz", Method: "GET", Path: "/readyz", Kind: kPlain, Fields: strs("x"), Base: fixed(nil), Accept: want200},
		{Name: "GET /metrics", Method: "GET", Path: "/metrics", Kind: kPlain, Fields: strs("x"), Base: fixed(nil), Accept: want200},
		// The dev inbox exists only under gatehouse dev.
		{Name: "GET /_dev/inbox", Method: "GET", Path: "/_dev/inbox", Kind: kPlain, Base: fixed(nil), Accept: want404},
		{Name: "GET /_dev/inbox.json", Method: "GET", Path: "/_dev/inbox.json", Kind: kPlain, Base: fixed(nil), Accept: want404},
		{Name: "GET /_dev/inbox/{id}", Method: "GET", Path: "/_dev/inbox/{}", Kind: kPlain, Base: fixed(map[string]string{"{}": "email_01ARZ3NDEKTSV4RRFFQ69G5FAV"}), Accept: want404},
	}
}

func want200(ts *testServer, c *hcase, r result) string {
	if r.Status == 200 {
		return ""
	}
	return fmt.Sprintf("status %d, want 200", r.Status)
}

func want404(ts *testServer, c *hcase, r result) string {
	if r.Status == 404 {
		return apiError(r)
	}
	return fmt.Sprintf("status %d, want 404: the dev inbox must not exist in serve mode", r.Status)
}
