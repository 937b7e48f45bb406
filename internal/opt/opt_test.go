package opt

import (
	"encoding/json"
	"testing"
)

func TestValue(t *testing.T) {
	type body struct {
		A Value[string] `json:"a"`
		B Value[string] `json:"b"`
		C Value[string] `json:"c"`
	}
	var got body
	if err := json.Unmarshal([]byte(`{"a":"x","b":null}`), &got); err != nil {
		t.Fatal(err)
	}
	if got.A != Of("x") || got.B != Null[string]() || got.C.Set {
		t.Fatalf("got %+v", got)
	}
	if err := json.Unmarshal([]byte(`{"a":5}`), &got); err == nil {
		t.Fatal("a number decoded into a string value")
	}
}
