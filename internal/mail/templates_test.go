package mail

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from golden (-want +got):\n%s", path, diff)
	}
}

func renderAll(t *testing.T, kind string, d TemplateData) string {
	t.Helper()
	subject, text, html, err := Render(kind, d)
	if err != nil {
		t.Fatal(err)
	}
	return "Subject: " + subject + "\n\n===== text =====\n" + text + "\n===== html =====\n" + html
}

func TestRenderGolden(t *testing.T) {
	branded := TemplateData{
		AppName: "Acme", LogoURL: "https://acme.example/logo.png", PrimaryColor: "#FFD43B",
		Email: "ada@example.com", ExpiresIn: 10 * time.Minute,
	}
	plain := TemplateData{Email: "ada@example.com"}
	for _, kind := range Kinds {
		for name, d := range map[string]TemplateData{"branded": branded, "plain": plain} {
			t.Run(kind+"_"+name, func(t *testing.T) {
				d.Code = "123456"
				d.Link = "https://auth.example/reset-password?token=tok_abc&x=1"
				golden(t, kind+"_"+name, renderAll(t, kind, d))
			})
		}
	}
}

// Hostile branding and user values never reach the HTML unescaped, and bad
// colours and logos fall back to the defaults.
func TestRenderEscapes(t *testing.T) {
	d := TemplateData{
		AppName:      `Evil<script>alert(1)</script>"'` + "\r\nBcc: x@evil.example",
		LogoURL:      "javascript:alert(1)",
		PrimaryColor: "red;background:url(https://evil.example/x)",
		Email:        `"<img src=x onerror=alert(1)>"@example.com`,
		Code:         "<b>1</b>",
		Link:         `https://auth.example/r?t="><script>x</script>`,
	}
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			subject, text, html, err := Render(kind, d)
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsAny(subject, "\r\n") {
				t.Errorf("subject has a line break: %q", subject)
			}
			for _, bad := range []string{"<script", "<img", "<b>", "javascript:", "evil.example/x", "red;", `"><`} {
				if strings.Contains(html, bad) {
					t.Errorf("html contains %q", bad)
				}
			}
			if !strings.Contains(html, DefaultColor) && kind == KindPasswordReset {
				t.Errorf("html lacks the default colour")
			}
			if strings.Contains(text, "\r") {
				t.Errorf("text contains a carriage return")
			}
		})
	}
}

func TestRenderLogo(t *testing.T) {
	for logo, want := range map[string]bool{
		"https://acme.example/logo.png":      true,
		"http://acme.example/logo.png":       false,
		"https://user:pw@acme.example/l.png": false,
		"data:image/png;base64,AAAA":         false,
		"//acme.example/logo.png":            false,
		"":                                   false,
	} {
		_, _, html, err := Render(KindMagicAuth, TemplateData{AppName: "Acme", LogoURL: logo, Code: "1"})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(html, "<img"); got != want {
			t.Errorf("logo %q: img shown = %v, want %v", logo, got, want)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		kind string
		d    TemplateData
	}{
		"unknown kind":       {"welcome", TemplateData{Code: "1"}},
		"verification code":  {KindEmailVerification, TemplateData{}},
		"magic code":         {KindMagicAuth, TemplateData{}},
		"reset link missing": {KindPasswordReset, TemplateData{}},
		"reset link scheme":  {KindPasswordReset, TemplateData{Link: "javascript:alert(1)"}},
		"reset link space":   {KindPasswordReset, TemplateData{Link: "https://a.example/x y"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, _, err := Render(tc.kind, tc.d); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Second:            "1 second",
		45 * time.Second:       "45 seconds",
		time.Minute:            "1 minute",
		10 * time.Minute:       "10 minutes",
		90 * time.Minute:       "90 minutes",
		time.Hour:              "1 hour",
		24 * time.Hour:         "24 hours",
		72 * time.Hour:         "3 days",
		500 * time.Millisecond: "1 second",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// Operator templates must define every part.
func TestParseTemplatesChecksParts(t *testing.T) {
	fsys := fstest.MapFS{"layout.html": {Data: []byte(`{{define "html"}}{{template "content" .}}{{end}}`)}}
	for _, k := range Kinds {
		fsys[k+".txt"] = &fstest.MapFile{Data: []byte(`{{define "subject"}}s{{end}}`)}
		fsys[k+".html"] = &fstest.MapFile{Data: []byte(`{{define "preheader"}}p{{end}}{{define "content"}}c{{end}}`)}
	}
	if _, err := ParseTemplates(fsys); err == nil || !strings.Contains(err.Error(), `"text"`) {
		t.Fatalf("err = %v, want a missing text template", err)
	}
	for _, k := range Kinds {
		fsys[k+".txt"] = &fstest.MapFile{Data: []byte(`{{define "subject"}}s{{end}}{{define "text"}}{{.Code}}{{end}}`)}
	}
	tm, err := ParseTemplates(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if _, text, _, err := tm.Render(KindMagicAuth, TemplateData{Code: "42"}); err != nil || text != "42\n" {
		t.Fatalf("Render = %q, %v", text, err)
	}
}
