package web

import "testing"

func TestBadEscape(t *testing.T) {
	for _, tc := range []struct {
		in  string
		bad bool
	}{
		{`{"a":"plain"}`, false},
		{`{"a":"\u00e9 \u20ac"}`, false},
		{`{"a":"\ud83d\ude00"}`, false}, // a valid pair
		{`{"a":"\\u0000"}`, false},      // an escaped backslash, then text
		{`{"a":"\\\u00e9"}`, false},
		{`{"a":"\u0000"}`, true},
		{`{"a":"x\\\u0000"}`, true},
		{`{"a":"\ud800"}`, true},
		{`{"a":"\ud800x"}`, true},
		{`{"a":"\ud800\u0041"}`, true},
		{`{"a":"\udc00"}`, true},
		{`{"a":"\ude00\ud83d"}`, true},
		{`{"a":"\uD83D\uDE00"}`, false},
	} {
		if got := badEscape([]byte(tc.in)); got != tc.bad {
			t.Errorf("badEscape(%s) = %v, want %v", tc.in, got, tc.bad)
		}
	}
}
