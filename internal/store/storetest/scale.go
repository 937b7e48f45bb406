package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

// ScaleUsers is how many users RunUserScale puts in one environment.
const ScaleUsers = 100_000

// Scale is what RunUserScale needs from a backend beyond the store.
type Scale struct {
	// InsertUsers inserts many users fast (one transaction, COPY, …).
	InsertUsers func(ctx context.Context, users []store.User) error
	// CheckPlan fails t unless the query ListUsers runs for these arguments
	// seeks index ranges rather than reading every user of the environment.
	CheckPlan func(t *testing.T, envID string, f store.UserFilter, p store.ListParams)
}

// scaleBudget is the most a single list call may take at ScaleUsers users.
// The goal is well under 50 ms; the margin absorbs noisy machines and -race.
const scaleBudget = 200 * time.Millisecond

// RunUserScale checks that listing and searching users stays fast with
// ScaleUsers users in one environment (and some in another): the first
// page, a page deep in the list reached by an After cursor, and selective
// searches with their next page each take under scaleBudget and read
// index ranges (sc.CheckPlan). It logs the times, and those of an
// unselective search, which is checked for results only. Skipped with -short.
func RunUserScale(t *testing.T, s store.Store, sc Scale) {
	if testing.Short() {
		t.Skipf("%d-user test skipped in -short mode", ScaleUsers)
	}
	ctx := t.Context()
	e := newEnv(t, s, "Big")
	other := newEnv(t, s, "Small")

	firsts := []string{"Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Mia", "James",
		"Charlotte", "William", "Ava", "Lucas", "Isabella", "Henry", "Evelyn", "Theodore", "Harper", "Jack",
		"Zoë", "Émile", "Søren", "Ingrid", "Mateo", "Aarav", "Yuki", "Chloé", "Björn", "Fatima"}
	lasts := []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
		"Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
		"Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
		"Müller", "Øberg", "Nakamura", "O'Brien", "Dubois", "Kowalski", "Ångström", "Rossi", "Novak", "Silva"}
	const rare = "Xanthopoulos" // the last name of 20 users spread through the list
	rng := rand.New(rand.NewPCG(1, 2))
	now := store.Now()
	mk := func(envID string, i int) store.User {
		first, last := firsts[rng.IntN(len(firsts))], lasts[rng.IntN(len(lasts))]
		if envID == e.ID && i%5000 == 1234 {
			last = rare
		}
		u := store.User{
			ID: ids.New("user"), EnvironmentID: envID,
			Email:     strings.ToLower(fmt.Sprintf("%s.%s.%d@example.com", first, strings.ReplaceAll(last, "'", ""), i)),
			FirstName: &first, LastName: &last, Metadata: map[string]string{}, CreatedAt: now, UpdatedAt: now,
		}
		if i%3 == 0 {
			name := first + " " + last
			u.Name = &name
		}
		return u
	}
	users := make([]store.User, 0, ScaleUsers)
	for i := range ScaleUsers {
		users = append(users, mk(e.ID, i))
	}
	small := make([]store.User, 0, 1000)
	for i := range 1000 {
		small = append(small, mk(other.ID, i))
	}
	start := time.Now()
	if err := sc.InsertUsers(ctx, users); err != nil {
		t.Fatal(err)
	}
	if err := sc.InsertUsers(ctx, small); err != nil {
		t.Fatal(err)
	}
	t.Logf("inserted %d + %d users in %v", len(users), len(small), time.Since(start).Round(time.Millisecond))
	ptrs := make([]*store.User, len(users))
	for i := range users {
		ptrs[i] = &users[i]
	}
	desc := make([]string, len(users))
	for i, u := range users {
		desc[i] = u.ID
	}
	slices.Sort(desc)
	asc := slices.Clone(desc)
	slices.Reverse(desc)

	rareFirst, _ := s.ListUsers(ctx, e.ID, store.UserFilter{Search: "xanth"}, store.ListParams{})
	target := users[77_777].Email
	target = target[:strings.IndexByte(target, '@')+1] // first.last.77777@ — one user
	cases := []struct {
		name   string
		f      store.UserFilter
		p      store.ListParams
		want   []string
		budget bool // checked against scaleBudget and the plan
	}{
		{"first page", store.UserFilter{}, store.ListParams{}, desc[:10], true},
		{"deep page (desc, After)", store.UserFilter{}, store.ListParams{After: desc[90_000]}, desc[90_001:90_011], true},
		{"deep page (asc, After)", store.UserFilter{}, store.ListParams{Order: store.Asc, After: asc[95_000], Limit: 100},
			asc[95_001:95_101], true},
		{"search rare last name", store.UserFilter{Search: "XANTH"}, store.ListParams{},
			wantSearch(ptrs, "xanth", store.Desc)[:10], true},
		{"search rare last name, page 2", store.UserFilter{Search: "xanth"}, store.ListParams{After: rareFirst.After},
			wantSearch(ptrs, "xanth", store.Desc)[10:], true},
		{"search one email", store.UserFilter{Search: target}, store.ListParams{}, wantSearch(ptrs, target, store.Desc), true},
		{"search name, asc", store.UserFilter{Search: "émile øb"}, store.ListParams{Order: store.Asc, Limit: 100},
			wantSearch(ptrs, "émile øb", store.Asc), true},
		{"search unselective", store.UserFilter{Search: "o"}, store.ListParams{},
			wantSearch(ptrs, "o", store.Desc)[:10], false},
		{"search unselective, deep", store.UserFilter{Search: "m"}, store.ListParams{After: desc[60_000]},
			afterCursor(wantSearch(ptrs, "m", store.Desc), desc[60_000], store.Desc)[:10], false},
	}
	if n := len(wantSearch(ptrs, "xanth", store.Desc)); n != 20 {
		t.Fatalf("%d users named %s, want 20", n, rare)
	}
	if n := len(cases[5].want); n != 1 {
		t.Fatalf("search %q has %d matches, want 1", target, n)
	}
	for _, tc := range cases {
		var times []time.Duration
		var page store.Page[store.User]
		for range 7 {
			start := time.Now()
			var err error
			page, err = s.ListUsers(ctx, e.ID, tc.f, tc.p)
			times = append(times, time.Since(start))
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		if diff := cmp.Diff(tc.want, userIDs(page)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
		first := times[0]
		slices.Sort(times)
		median := times[len(times)/2]
		t.Logf("%-32s %3d users: first %8v, median %8v, max %8v", tc.name, len(page.Data),
			first.Round(time.Microsecond), median.Round(time.Microsecond), times[len(times)-1].Round(time.Microsecond))
		if !tc.budget {
			continue
		}
		if median > scaleBudget {
			t.Errorf("%s: median %v, want under %v", tc.name, median, scaleBudget)
		}
		if sc.CheckPlan != nil {
			sc.CheckPlan(t, e.ID, tc.f, tc.p)
		}
	}
	// The small environment's search sees its own users only.
	page, err := s.ListUsers(ctx, other.ID, store.UserFilter{Search: "xanth"}, store.ListParams{})
	if err != nil || len(page.Data) != 0 {
		t.Errorf("search across environments = %d users, %v", len(page.Data), err)
	}
}

// afterCursor returns the IDs of list (in order) that come after cursor.
func afterCursor(list []string, cursor string, order store.Order) []string {
	out := []string{}
	for _, id := range list {
		if (order == store.Asc && id > cursor) || (order != store.Asc && id < cursor) {
			out = append(out, id)
		}
	}
	return out
}
