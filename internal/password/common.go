package password

import (
	_ "embed"
	"strings"
	"sync"
)

// common.txt lists well-known passwords of at least MinLength characters,
// lowercased, one per line: the most frequent entries of public breach
// corpora, keyboard walks, digit runs and the usual word-plus-digits
// patterns. Shorter passwords need no listing since Check refuses them on
// length.
//
//go:embed common.txt
var commonText string

// commonPasswords is the set of lines of common.txt, built on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 1200)
	for line := range strings.Lines(commonText) {
		if w := strings.TrimSpace(line); w != "" {
			set[w] = struct{}{}
		}
	}
	return set
})

// isCommon reports whether password, ignoring case, is on the list.
func isCommon(password string) bool {
	_, ok := commonPasswords()[strings.ToLower(password)]
	return ok
}
