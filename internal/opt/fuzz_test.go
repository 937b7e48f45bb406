package opt

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

type fuzzDoc struct {
	S Value[string]             `json:"s"`
	B Value[bool]               `json:"b"`
	M Value[map[string]*string] `json:"m"`
}

// FuzzValue: unmarshalling any document never panics; an absent key is
// unset, an explicit null is Set and Null, and a value round-trips.
func FuzzValue(f *testing.F) {
	for _, s := range []string{`{}`, `{"s":null}`, `{"s":"x","b":true,"m":{"k":null,"v":"w"}}`, `{"s": null }`, `{"s":1}`, `{"m":[]}`,
		`{"s":"\u0000"}`, "{\"s\":\"\xff\"}", `{"s":"a","s":null}`, `{"b":nul}`, `null`, `{"m":{"":""}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var d fuzzDoc
		if err := json.Unmarshal(doc, &d); err != nil {
			return
		}
		var raw map[string]json.RawMessage
		if json.Unmarshal(doc, &raw) != nil || raw == nil {
			return // a top-level null leaves everything unset
		}
		check := func(key string, set, null bool, v any) {
			// encoding/json matches keys case-insensitively.
			var r json.RawMessage
			present, n := false, 0
			for k, v := range raw {
				if strings.EqualFold(k, key) {
					r, present = v, true
					n++
				}
			}
			if n > 1 {
				return // which duplicate wins is encoding/json's business
			}
			if set != present {
				t.Fatalf("%s: Set = %v, key present = %v in %q", key, set, present, doc)
			}
			if !present {
				return
			}
			if null != bytes.Equal(bytes.TrimSpace(r), []byte("null")) {
				t.Fatalf("%s: Null = %v for %q", key, null, r)
			}
			if null {
				return
			}
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			back := reflect.New(reflect.TypeOf(v))
			if err := json.Unmarshal(b, back.Interface()); err != nil || !reflect.DeepEqual(back.Elem().Interface(), v) {
				t.Fatalf("%s: %v does not round-trip: %s", key, v, b)
			}
		}
		check("s", d.S.Set, d.S.Null, d.S.V)
		check("b", d.B.Set, d.B.Null, d.B.V)
		check("m", d.M.Set, d.M.Null, d.M.V)
	})
}
