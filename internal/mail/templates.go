package mail

import (
	"bytes"
	"embed"
	"fmt"
	"github.com/gatehouse/gatehouse/internal/brand"
	htmltemplate "html/template"
	"io/fs"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// The kinds of templated email; each names an HTML and a text template.
// They match the store's challenge kinds.
const (
	KindEmailVerification = store.ChallengeEmailVerification // a code to verify an address
	KindMagicAuth         = store.ChallengeMagicAuth         // a one-time sign-in code
	KindPasswordReset     = store.ChallengePasswordReset     // a link to choose a new password
)

// Kinds lists every template kind.
var Kinds = []string{KindEmailVerification, KindMagicAuth, KindPasswordReset}

// DefaultColor is the button and accent colour when an environment sets none
// (the hosted pages' default accent).
const DefaultColor = "#3b5bdb"

// TemplateData is what a template shows. Branding fields are re-validated at
// render time, whatever the database holds: PrimaryColor must be #rrggbb
// (else DefaultColor) and LogoURL an https URL (else no logo). Every value is
// escaped for its context; control characters are removed from AppName.
type TemplateData struct {
	AppName      string        // the environment's app name ("" for "Gatehouse")
	LogoURL      string        // https URL of the logo, or ""
	PrimaryColor string        // #rrggbb, or ""
	Email        string        // the recipient's address, shown in the footer
	Code         string        // the one-time code (verification, magic auth)
	Link         string        // the action link (password reset)
	ExpiresIn    time.Duration // how long the code or link lasts; 0 to omit
}

// withBranding fills unset branding fields from env.
func (d TemplateData) withBranding(env *store.Environment) TemplateData {
	if d.AppName == "" {
		d.AppName = appName(env)
	}
	if d.LogoURL == "" {
		d.LogoURL = env.Branding.LogoURL
	}
	if d.PrimaryColor == "" {
		d.PrimaryColor = env.Branding.PrimaryColor
	}
	return d
}

// view is TemplateData after validation, as the templates see it.
type view struct {
	Subject   string
	AppName   string
	LogoURL   string
	Color     string
	ColorText string // text on Color
	LinkColor string // Color, or a dark grey when Color is too light for text on white
	Email     string
	Code      string
	Link      string
	ExpiresIn string
}

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

func (d TemplateData) view(kind string) (view, error) {
	v := view{AppName: oneLine(d.AppName), Email: oneLine(d.Email), Code: oneLine(d.Code), Color: DefaultColor}
	if strings.TrimSpace(v.AppName) == "" {
		v.AppName = "Gatehouse"
	}
	if colorRE.MatchString(d.PrimaryColor) {
		v.Color = strings.ToLower(d.PrimaryColor)
	}
	v.ColorText, v.LinkColor = brand.TextOn(v.Color), v.Color
	if v.ColorText != "#ffffff" {
		v.LinkColor = "#15171a"
	}
	if u, err := url.Parse(d.LogoURL); err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil {
		v.LogoURL = u.String()
	}
	if d.ExpiresIn > 0 {
		v.ExpiresIn = humanDuration(d.ExpiresIn)
	}
	switch kind {
	case KindEmailVerification, KindMagicAuth:
		if v.Code == "" {
			return view{}, fmt.Errorf("mail: %s email needs a code", kind)
		}
	case KindPasswordReset:
		u, err := url.Parse(d.Link)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(d.Link, " \r\n\t") {
			return view{}, fmt.Errorf("mail: %s email needs an http(s) link", kind)
		}
		v.Link = d.Link
	}
	return v, nil
}

//go:embed templates
var templateFiles embed.FS

// Templates is a parsed set of email templates.
type Templates struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
}

var defaultTemplates = mustTemplates()

func mustTemplates() *Templates {
	sub, err := fs.Sub(templateFiles, "templates")
	if err != nil {
		panic(err)
	}
	t, err := ParseTemplates(sub)
	if err != nil {
		panic(err)
	}
	return t
}

// ParseTemplates parses the templates of every kind from fsys: for each
// kind, KIND.txt defines "subject" and "text", KIND.html defines
// "preheader" and "content", and layout.html defines "html", which wraps
// the content. Operators may pass their own files this way.
func ParseTemplates(fsys fs.FS) (*Templates, error) {
	t := &Templates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	for _, kind := range Kinds {
		tt, err := texttemplate.New(kind+".txt").Option("missingkey=error").ParseFS(fsys, kind+".txt")
		if err != nil {
			return nil, fmt.Errorf("mail: templates: %w", err)
		}
		ht, err := htmltemplate.New("layout.html").Option("missingkey=error").ParseFS(fsys, "layout.html", kind+".html")
		if err != nil {
			return nil, fmt.Errorf("mail: templates: %w", err)
		}
		for _, name := range []string{"subject", "text"} {
			if tt.Lookup(name) == nil {
				return nil, fmt.Errorf("mail: templates: %s.txt does not define %q", kind, name)
			}
		}
		for _, name := range []string{"html", "preheader", "content"} {
			if ht.Lookup(name) == nil {
				return nil, fmt.Errorf("mail: templates: %s.html does not define %q", kind, name)
			}
		}
		t.text[kind], t.html[kind] = tt, ht
	}
	return t, nil
}

// Render renders the email of a kind with the embedded templates.
func Render(kind string, data TemplateData) (subject, text, html string, err error) {
	return defaultTemplates.Render(kind, data)
}

// Render returns the subject, plain-text body and HTML body of an email of
// the given kind.
func (t *Templates) Render(kind string, data TemplateData) (subject, text, html string, err error) {
	tt, ok := t.text[kind]
	if !ok {
		return "", "", "", fmt.Errorf("mail: unknown email kind %q", kind)
	}
	v, err := data.view(kind)
	if err != nil {
		return "", "", "", err
	}
	var b bytes.Buffer
	if err := tt.ExecuteTemplate(&b, "subject", v); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s subject: %w", kind, err)
	}
	v.Subject = oneLine(strings.TrimSpace(b.String()))
	b.Reset()
	if err := tt.ExecuteTemplate(&b, "text", v); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s text: %w", kind, err)
	}
	text = strings.TrimSpace(b.String()) + "\n"
	b.Reset()
	if err := t.html[kind].ExecuteTemplate(&b, "html", v); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s html: %w", kind, err)
	}
	return v.Subject, text, b.String(), nil
}

// humanDuration writes d the way an email says it: "10 minutes", "1 hour",
// "2 days".
func humanDuration(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.FormatInt(n, 10) + " " + one + "s"
	}
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return unit(int64(math.Round(d.Minutes())), "minute")
	default:
		return unit(max(1, int64(math.Round(d.Seconds()))), "second")
	}
}
