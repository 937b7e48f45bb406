package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/store"
)

// searchMatches is the contract of UserFilter.Search as a model: the email
// (stored lowercase) or a name starts with the query, ignoring case as Go's
// strings.ToLower does.
func searchMatches(u *store.User, q string) bool {
	q = strings.ToLower(q)
	if strings.HasPrefix(u.Email, q) {
		return true
	}
	for _, n := range []*string{u.FirstName, u.LastName, u.Name} {
		if n != nil && strings.HasPrefix(strings.ToLower(*n), q) {
			return true
		}
	}
	return false
}

// wantSearch returns the IDs of the users that match q, in the order asked.
func wantSearch(users []*store.User, q string, order store.Order) []string {
	out := []string{}
	for _, u := range users {
		if searchMatches(u, q) {
			out = append(out, u.ID)
		}
	}
	slices.Sort(out)
	if order != store.Asc {
		slices.Reverse(out)
	}
	return out
}

func userIDs(p store.Page[store.User]) []string {
	out := []string{}
	for _, u := range p.Data {
		out = append(out, u.ID)
	}
	return out
}

// walkUsers lists every page of a filtered user list with After cursors.
func walkUsers(t *testing.T, s store.Store, envID string, f store.UserFilter, p store.ListParams) ([]string, []store.Page[store.User]) {
	t.Helper()
	got := []string{}
	var pages []store.Page[store.User]
	for {
		page, err := s.ListUsers(t.Context(), envID, f, p)
		if err != nil {
			t.Fatalf("ListUsers(%+v, %+v): %v", f, p, err)
		}
		if page.Data == nil {
			t.Fatalf("ListUsers(%+v, %+v): nil Data", f, p)
		}
		pages = append(pages, page)
		got = append(got, userIDs(page)...)
		if page.After == "" || len(pages) > 1000 {
			return got, pages
		}
		p.After = page.After
	}
}

func testUserSearch(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")
	type person struct{ email, first, last, name string }
	people := []person{
		{"ada@example.com", "Ada", "Lovelace", "Ada King, Countess of Lovelace"},
		{"grace@navy.mil", "Grace", "Hopper", ""},
		{"alan@example.com", "Alan", "Turing", "Alan M. Turing"},
		{"ezola@example.fr", "Émile", "Zola", ""},
		{"zoë.o@example.com", "ZOË", "Ørsted", ""},
		{"anders@example.se", "Anders", "Ångström", ""},
		{"100%_off@example.com", "Per%cent", "", ""},
		{"1000@example.com", "", "", ""},
		{"x_y@example.com", "", "", ""},
		{"xay@example.com", "", "", ""},
		{`back\slash@example.com`, `Back\Slash`, "", ""},
		{"ronald@example.com", "Ronald", "McDonald", ""},
		{"dj@example.com", "", "", "DJ Khaled"},
		{"plain@example.com", "", "", ""},
	}
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	var users []*store.User
	for _, p := range people {
		u := newUser(e.ID, p.email)
		u.FirstName, u.LastName, u.Name = opt(p.first), opt(p.last), opt(p.name)
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
		// The same people in another environment must never show up.
		twin := newUser(other.ID, p.email)
		twin.FirstName, twin.LastName, twin.Name = u.FirstName, u.LastName, u.Name
		if err := s.CreateUser(ctx, twin); err != nil {
			t.Fatal(err)
		}
	}
	byEmail := func(email string) string {
		for _, u := range users {
			if u.Email == email {
				return u.ID
			}
		}
		t.Fatalf("no user %s", email)
		return ""
	}
	for _, tc := range []struct {
		q    string
		want []string // emails, checked against the model too
	}{
		{"ada", []string{"ada@example.com"}},
		{"ADA@EXAMPLE.COM", []string{"ada@example.com"}},
		{"ada@example.com", []string{"ada@example.com"}},
		{"Love", []string{"ada@example.com"}},
		{"lovelace", []string{"ada@example.com"}},
		{"ada king, c", []string{"ada@example.com"}},
		{"a", []string{"ada@example.com", "alan@example.com", "anders@example.se"}},
		{"al", []string{"alan@example.com"}},
		{"Alan M. T", []string{"alan@example.com"}},
		{"TURING", []string{"alan@example.com"}},
		{"hop", []string{"grace@navy.mil"}},
		{"émile", []string{"ezola@example.fr"}},
		{"ÉMILE", []string{"ezola@example.fr"}},
		{"Émi", []string{"ezola@example.fr"}},
		{"emile", nil}, // no accent folding
		{"zo", []string{"ezola@example.fr", "zoë.o@example.com"}},
		{"zoë", []string{"zoë.o@example.com"}},
		{"ZOË.O@", []string{"zoë.o@example.com"}},
		{"ørsted", []string{"zoë.o@example.com"}},
		{"ØRST", []string{"zoë.o@example.com"}},
		{"ÅNG", []string{"anders@example.se"}},
		{"mcd", []string{"ronald@example.com"}},
		{"dj k", []string{"dj@example.com"}},
		// LIKE metacharacters are literal.
		{"100%", []string{"100%_off@example.com"}},
		{"100%_", []string{"100%_off@example.com"}},
		{"100", []string{"100%_off@example.com", "1000@example.com"}},
		{"x_", []string{"x_y@example.com"}},
		{"x", []string{"x_y@example.com", "xay@example.com"}},
		{"per%", []string{"100%_off@example.com"}},
		{"%", nil},
		{"_", nil},
		{"%ada", nil},
		{`back\`, []string{`back\slash@example.com`}},
		{`BACK\S`, []string{`back\slash@example.com`}},
		{`\`, nil},
		// Prefixes only, no substrings, no trimming.
		{"example", nil},
		{"@", nil},
		{" ada", nil},
		{"nobody", nil},
		{"ada\x00", nil},
		{"\U0010FFFF", nil},
		{"a\U0010FFFF", nil},
		{strings.Repeat("a", 300), nil},
	} {
		want := []string{}
		for _, email := range tc.want {
			want = append(want, byEmail(email))
		}
		slices.Sort(want)
		slices.Reverse(want)
		if model := wantSearch(users, tc.q, store.Desc); !cmp.Equal(want, model) {
			t.Fatalf("search %q: the test's model disagrees with its table: %v vs %v", tc.q, model, want)
		}
		page, err := s.ListUsers(ctx, e.ID, store.UserFilter{Search: tc.q}, store.ListParams{})
		if err != nil {
			t.Errorf("search %q: %v", tc.q, err)
			continue
		}
		if diff := cmp.Diff(want, userIDs(page)); diff != "" {
			t.Errorf("search %q (-want +got):\n%s", tc.q, diff)
		}
		if page.Data == nil || page.Before != "" || page.After != "" {
			t.Errorf("search %q: data %v, cursors %q %q", tc.q, page.Data, page.Before, page.After)
		}
	}

	// Search and an exact email narrow together.
	ada := byEmail("ada@example.com")
	page, err := s.ListUsers(ctx, e.ID, store.UserFilter{Email: "ada@example.com", Search: "love"}, store.ListParams{})
	if err != nil || !cmp.Equal(userIDs(page), []string{ada}) {
		t.Errorf("email + search = %v, %v", userIDs(page), err)
	}
	page, err = s.ListUsers(ctx, e.ID, store.UserFilter{Email: "ada@example.com", Search: "hop"}, store.ListParams{})
	if err != nil || len(page.Data) != 0 {
		t.Errorf("email + non-matching search = %v, %v", userIDs(page), err)
	}
	// Another environment sees only its own twins.
	page, _ = s.ListUsers(ctx, other.ID, store.UserFilter{Search: "ada"}, store.ListParams{})
	if len(page.Data) != 1 || page.Data[0].EnvironmentID != other.ID {
		t.Errorf("search in the other environment = %+v", page.Data)
	}
	page, _ = s.ListUsers(ctx, "environment_missing", store.UserFilter{Search: "ada"}, store.ListParams{})
	if len(page.Data) != 0 {
		t.Errorf("search in a missing environment = %v", userIDs(page))
	}

	// Updates keep search in step with the names.
	if _, err := s.UpdateUser(ctx, e.ID, ada, func(u *store.User) error {
		u.FirstName, u.LastName, u.Name = ptr("Augusta"), ptr("Byron"), nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string][]string{
		"augusta": {ada}, "BYRON": {ada}, "ada": {ada} /* the email */, "love": {}, "ada king": {},
	} {
		page, err := s.ListUsers(ctx, e.ID, store.UserFilter{Search: q}, store.ListParams{})
		if err != nil || !cmp.Equal(want, userIDs(page)) {
			t.Errorf("after update, search %q = %v, %v; want %v", q, userIDs(page), err, want)
		}
	}
	grace := byEmail("grace@navy.mil")
	if _, err := s.UpdateUser(ctx, e.ID, grace, func(u *store.User) error {
		u.Email = "rear.admiral@navy.mil"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string][]string{"grace": {grace}, "rear": {grace}, "grace@": {}} {
		page, err := s.ListUsers(ctx, e.ID, store.UserFilter{Search: q}, store.ListParams{})
		if err != nil || !cmp.Equal(want, userIDs(page)) {
			t.Errorf("after email change, search %q = %v, %v; want %v", q, userIDs(page), err, want)
		}
	}
}

func testUserSearchPagination(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")
	var users []*store.User
	add := func(envID, email, first, last string) *store.User {
		t.Helper()
		u := newUser(envID, email)
		if first != "" {
			u.FirstName = &first
		}
		if last != "" {
			u.LastName = &last
		}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if envID == e.ID {
			users = append(users, u)
		}
		return u
	}
	var noise []*store.User
	for i := range 30 {
		switch i % 5 {
		case 0: // matches on email and last name: listed once
			add(e.ID, "smith"+string(rune('a'+i))+"@example.com", "Jo", "Smith")
		case 1: // matches on last name only
			add(e.ID, "u"+string(rune('a'+i))+"@example.com", "Pat", "SMITH-Jones")
		case 2: // matches on first name only
			add(e.ID, "v"+string(rune('a'+i))+"@example.com", "Smithers", "Burns")
		case 3: // near misses
			noise = append(noise, add(e.ID, "smyth"+string(rune('a'+i))+"@example.com", "Smyth", "Smit"))
		case 4: // another environment
			add(other.ID, "smith"+string(rune('a'+i))+"@example.com", "Smith", "Smith")
		}
	}
	want := wantSearch(users, "smith", store.Asc)
	if len(want) != 18 {
		t.Fatalf("model finds %d matches, want 18", len(want))
	}
	for _, order := range []store.Order{store.Asc, store.Desc} {
		t.Run(string(order), func(t *testing.T) {
			want := wantSearch(users, "Smith", order)
			f := store.UserFilter{Search: "Smith"}
			got, pages := walkUsers(t, s, e.ID, f, store.ListParams{Limit: 5, Order: order})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("forward walk (-want +got):\n%s", diff)
			}
			if len(pages) != 4 || pages[0].Before != "" || pages[3].After != "" || pages[1].Before != want[5] {
				t.Errorf("cursors of %d pages: first.before=%q last.after=%q second.before=%q",
					len(pages), pages[0].Before, pages[len(pages)-1].After, pages[1].Before)
			}
			// Backward from the last page returns the third exactly.
			back, err := s.ListUsers(ctx, e.ID, f, store.ListParams{Limit: 5, Order: order, Before: pages[3].Before})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want[10:15], userIDs(back)); diff != "" || back.Before != want[10] || back.After != want[14] {
				t.Errorf("backward page: before=%q after=%q (-want +got):\n%s", back.Before, back.After, diff)
			}
			// A cursor need not match the search: start after a near miss.
			cursor := noise[2].ID
			rest := afterCursor(want, cursor, order)
			got, _ = walkUsers(t, s, e.ID, f, store.ListParams{Limit: 4, Order: order, After: cursor})
			if diff := cmp.Diff(rest, got); diff != "" {
				t.Errorf("walk after a non-matching cursor (-want +got):\n%s", diff)
			}
		})
	}
	// A page size that fits exactly has no next page.
	page, _ := s.ListUsers(ctx, e.ID, store.UserFilter{Search: "smith"}, store.ListParams{Limit: 18})
	if len(page.Data) != 18 || page.After != "" {
		t.Errorf("exact fit: %d users, after %q", len(page.Data), page.After)
	}
	page, _ = s.ListUsers(ctx, e.ID, store.UserFilter{Search: "smyth"}, store.ListParams{Limit: 100})
	if len(page.Data) != len(noise) {
		t.Errorf("search smyth: %d users, want %d", len(page.Data), len(noise))
	}
}
