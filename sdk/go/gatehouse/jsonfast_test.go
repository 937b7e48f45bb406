package gatehouse

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sessionJSONSeeds(t testing.TB) []string {
	created := time.Date(2024, 1, 2, 3, 4, 5, 6e6, time.UTC)
	full, _ := json.Marshal(SessionData{OrganizationID: "org_1", User: User{ID: "user_1", Email: "a@b.c", EmailVerified: true, Name: "Ada",
		FirstName: "Ada", LastName: "L", LastSignInAt: &created, Locale: "en", ExternalID: "x", Metadata: map[string]string{"k": "v", "é": "ü"},
		CreatedAt: created, UpdatedAt: created}, AccessToken: "a.b.c", RefreshToken: "rt", AuthenticationMethod: "Password",
		Impersonator: &Impersonator{Email: "i@b.c", Reason: "support"}})
	minimal, _ := json.Marshal(SessionData{AccessToken: "t", RefreshToken: "r"})
	return []string{
		string(full), string(minimal), vectorPlain,
		`{"accessToken":"a\"b\\c\/d\n","user":null,"impersonator":null,"extra":[1,-2.5e3,{"x":[true,false,null]},"s"]}`,
		` { "accessToken" : "x" } `,
		`{"accessToken":"\u0041"}`,
		`{"AccessToken":"x"}`,
		`{"accessToken":"x","accessToken":"y"}`,
		`{"user":{"id":"1"},"user":{"email":"e"}}`,
		`{"user":{"metadata":{"a":"1","a":"2"}}}`,
		`{"user":{"emailVerified":"yes"}}`,
		`{"accessToken":1}`,
		`{"accessToken":"x"} {}`,
		`{"accessToken":"x",}`,
		`{"x":01}`,
		`{"x":-}`,
		`{"x":1.}`,
		`{"x":"\x01"}`,
		"{\"x\":\"\xff\"}",
		`null`,
		`[]`,
		``,
		`{"user":{"metadata":null,"name":null,"lastSignInAt":"2024-01-01T00:00:00.000Z"}}`,
		`{"accessTokeſ":"x"}`,
		`{"user":{"ſd":"x"}}`,
	}
}

// The fast decoder, when it succeeds, agrees with encoding/json.
func checkSessionJSON(t *testing.T, data []byte) {
	var fast, std sessionDataJSON
	r := jreader{b: data}
	ok := r.sessionData(&fast)
	err := json.Unmarshal(data, &std)
	if !ok {
		// decodeSessionJSON falls back to encoding/json.
		var via sessionDataJSON
		if err2 := decodeSessionJSON(data, &via); (err2 == nil) != (err == nil) || (err == nil && !reflect.DeepEqual(via, std)) {
			t.Fatalf("fallback for %q: %+v, %v; encoding/json %+v, %v", data, via, err2, std, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("fast decoder accepted %q, encoding/json refused it: %v", data, err)
	}
	if !reflect.DeepEqual(fast, std) {
		t.Fatalf("decoders disagree on %q:\nfast %s\n std %s", data, dump(fast), dump(std))
	}
}

func dump(v sessionDataJSON) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestSessionJSONFastPath(t *testing.T) {
	seeds := sessionJSONSeeds(t)
	for _, s := range seeds {
		checkSessionJSON(t, []byte(s))
	}
	// The common shape takes the fast path.
	for _, s := range seeds[:2] {
		r := jreader{b: []byte(s)}
		var out sessionDataJSON
		if !r.sessionData(&out) {
			t.Fatalf("fast path refused %s", s)
		}
	}
	if r := (jreader{b: []byte(strings.Repeat("[", 40) + strings.Repeat("]", 40))}); r.skip(1) {
		t.Fatal("deep nesting accepted")
	}
}

func FuzzSessionJSON(f *testing.F) {
	for _, s := range sessionJSONSeeds(f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSessionJSON(t, data)
	})
}
