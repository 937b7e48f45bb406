package brand

import "testing"

func TestTextOn(t *testing.T) {
	for bg, want := range map[string]string{
		"#ffffff": "#0b0c0e", "#000000": "#ffffff", "#3b5bdb": "#ffffff",
		"#FFD43B": "#0b0c0e", "#777777": "#0b0c0e",
	} {
		if got := TextOn(bg); got != want {
			t.Errorf("TextOn(%s) = %s, want %s", bg, got, want)
		}
	}
}
