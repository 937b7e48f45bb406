package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Name       string
	Doc        string
	Imports    []string
	Dir        string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "github.com/gatehouse/gatehouse/...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// Every package says what it owns in a package comment.
func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.Doc == "" {
			t.Errorf("%s has no package documentation (add a doc.go)", p.ImportPath)
		}
	}
}

// Domain and storage packages stay free of net/http, so the rules live in
// one place and every surface (API, hosted pages, CLI) shares them.
func TestOnlySurfacesImportNetHTTP(t *testing.T) {
	allowed := map[string]bool{"api": true, "server": true, "web": true, "hosted": true, "admin": true, "oauth": true, "session": true}
	for _, p := range listPackages(t) {
		rest, ok := strings.CutPrefix(p.ImportPath, "github.com/gatehouse/gatehouse/internal/")
		if !ok {
			continue
		}
		top, _, _ := strings.Cut(rest, "/")
		for _, imp := range p.Imports {
			if imp == "net/http" && !allowed[top] {
				t.Errorf("%s imports net/http; only the HTTP surfaces may", p.ImportPath)
			}
		}
	}
}
