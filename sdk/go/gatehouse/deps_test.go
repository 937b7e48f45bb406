package gatehouse

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The SDK is standard library only, so apps do not inherit dependencies:
// its go.mod requires nothing and no file imports a non-standard package.
func TestStandardLibraryOnly(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "require" || f[0] == "replace" || f[0] == "tool") {
			t.Errorf("sdk/go/go.mod has %q; the SDK must use the standard library only", strings.TrimSpace(line))
		}
	}
	files, _ := filepath.Glob("*.go")
	for _, name := range files {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if strings.Contains(first, ".") && !strings.HasPrefix(path, "github.com/gatehouse/gatehouse/sdk/go/") {
				t.Errorf("%s imports %s; the SDK must use the standard library only", name, path)
			}
		}
	}
}
