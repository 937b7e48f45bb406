package admin

import (
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// funcs are the template helpers. None returns template.HTML: everything
// a template prints is escaped.
var funcs = template.FuncMap{
	"time":     formatTime,
	"isotime":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"when":     formatTimePtr,
	"deref":    deref,
	"duration": formatDuration,
	"username": userName,
	"envurl":   envURL,
	"pairs":    pairs,
	// redirectlist packs the arguments of the redirect-list template.
	"redirectlist": newRedirectList,
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2 Jan 2006, 15:04 UTC")
}

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return "Never"
	}
	return formatTime(*t)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// userName is the name to show for a user (a store.User or *store.User):
// Name, else first and last, else "".
func userName(v any) string {
	var u store.User
	switch x := v.(type) {
	case store.User:
		u = x
	case *store.User:
		if x == nil {
			return ""
		}
		u = *x
	default:
		return ""
	}
	if u.Name != nil && *u.Name != "" {
		return *u.Name
	}
	return strings.TrimSpace(deref(u.FirstName) + " " + deref(u.LastName))
}

// formatDuration writes a duration the way the settings form reads it:
// 30d, 12h, 5m, 90s.
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// parseDuration reads a duration like time.ParseDuration, also accepting
// whole days ("30d").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err != nil || fmt.Sprint(days) != n || days < 0 || days > 100000 {
			return 0, fmt.Errorf("bad days")
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// pairs returns a map's entries sorted by key, for printing event details.
func pairs(m map[string]string) [][2]string {
	var out [][2]string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, [2]string{k, m[k]})
	}
	return out
}
