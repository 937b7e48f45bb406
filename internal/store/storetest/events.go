package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

func newEvent(envID, typ string) *store.Event {
	return &store.Event{
		ID: ids.New("event"), EnvironmentID: envID, Type: typ, ActorType: "user", ActorID: ids.New("user"),
		TargetID: ids.New("session"), IPAddress: "2001:db8::1", Data: map[string]string{"method": "password"},
		CreatedAt: store.Now(),
	}
}

// logged reports whether e is in its environment's log, as recorded.
func logged(t *testing.T, s store.Store, e *store.Event) bool {
	t.Helper()
	p, err := s.ListEvents(t.Context(), e.EnvironmentID, []string{e.Type}, store.ListParams{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range p.Data {
		if got.ID == e.ID {
			want := *e
			want.CreatedAt = store.Truncate(e.CreatedAt)
			if !cmp.Equal(&want, &got) {
				t.Errorf("event = %+v; want %+v", got, want)
			}
			return true
		}
	}
	return false
}

func eventIDs(p store.Page[store.Event]) []string {
	out := []string{}
	for _, e := range p.Data {
		out = append(out, e.ID)
	}
	return out
}

func testEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")

	first := newEvent(e.ID, "user.signed_up")
	first.CreatedAt = rawTime(0)
	first.Data = map[string]string{"method": "password", "unicode": "ünïcødé ✓", "quote": `"}`}
	if err := s.RecordEvent(ctx, first); err != nil {
		t.Fatal(err)
	}
	first.CreatedAt = store.Truncate(first.CreatedAt)
	wantErr(t, s.RecordEvent(ctx, first), store.ErrConflict, "duplicate event ID")
	// Empty details and no actor are fine; nil Data reads back empty.
	bare := &store.Event{ID: ids.New("event"), EnvironmentID: e.ID, Type: "user.sign_in_failed", ActorType: "system",
		CreatedAt: store.Now()}
	if err := s.RecordEvent(ctx, bare); err != nil {
		t.Fatal(err)
	}
	bare.Data = map[string]string{}
	signIn := newEvent(e.ID, "user.signed_in")
	if err := s.RecordEvent(ctx, signIn); err != nil {
		t.Fatal(err)
	}
	elsewhere := newEvent(other.ID, "user.signed_in")
	if err := s.RecordEvent(ctx, elsewhere); err != nil {
		t.Fatal(err)
	}
	server := newEvent("", "admin.environment_created")
	server.ActorType, server.TargetID = "admin", other.ID
	if err := s.RecordEvent(ctx, server); err != nil {
		t.Fatal(err)
	}

	// Newest first by default, this environment's only, every field kept.
	page, err := s.ListEvents(ctx, e.ID, nil, store.ListParams{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Event{*signIn, *bare, *first}, page.Data); diff != "" {
		t.Errorf("ListEvents (-want +got):\n%s", diff)
	}
	if page.Before != "" || page.After != "" {
		t.Errorf("single page cursors = %q, %q", page.Before, page.After)
	}
	if len(page.Data) > 0 && page.Data[2].CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt zone = %v", page.Data[2].CreatedAt.Location())
	}
	page, _ = s.ListEvents(ctx, e.ID, nil, store.ListParams{Order: store.Asc})
	if diff := cmp.Diff([]string{first.ID, bare.ID, signIn.ID}, eventIDs(page)); diff != "" {
		t.Errorf("ascending (-want +got):\n%s", diff)
	}
	page, _ = s.ListEvents(ctx, other.ID, nil, store.ListParams{})
	if diff := cmp.Diff([]store.Event{*elsewhere}, page.Data); diff != "" {
		t.Errorf("other environment (-want +got):\n%s", diff)
	}
	// envID "" lists the server-wide events, and only those.
	page, err = s.ListEvents(ctx, "", nil, store.ListParams{})
	if err != nil {
		t.Fatal(err)
	}
	server.EnvironmentID = ""
	if diff := cmp.Diff([]store.Event{*server}, page.Data); diff != "" {
		t.Errorf("server-wide events (-want +got):\n%s", diff)
	}

	// Type filters.
	for _, tc := range []struct {
		env   string
		types []string
		want  []string
	}{
		{e.ID, []string{"user.signed_in"}, []string{signIn.ID}},
		{e.ID, []string{"user.signed_in", "user.signed_up"}, []string{signIn.ID, first.ID}},
		{e.ID, []string{}, []string{signIn.ID, bare.ID, first.ID}},
		{e.ID, []string{"session.ended"}, []string{}},
		{e.ID, []string{"admin.environment_created"}, []string{}},
		{"", []string{"admin.environment_created", "user.signed_in"}, []string{server.ID}},
		{"", []string{"user.signed_in"}, []string{}},
		{other.ID, []string{"user.signed_in"}, []string{elsewhere.ID}},
	} {
		page, err := s.ListEvents(ctx, tc.env, tc.types, store.ListParams{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, eventIDs(page)); diff != "" {
			t.Errorf("env %q types %v (-want +got):\n%s", tc.env, tc.types, diff)
		}
		if page.Data == nil {
			t.Errorf("env %q types %v: nil Data", tc.env, tc.types)
		}
	}
	page, err = s.ListEvents(ctx, "environment_missing", nil, store.ListParams{})
	if err != nil || len(page.Data) != 0 {
		t.Errorf("unknown environment = %+v, %v", page, err)
	}
	if err := s.RecordEvent(ctx, newEvent("environment_missing", "user.signed_in")); err == nil {
		t.Error("recorded an event in a missing environment")
	}
}

func testEventPagination(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")
	var all, signIns []string
	for i := range 25 {
		typ := "user.signed_in"
		if i%3 == 0 {
			typ = "user.sign_in_failed"
		}
		ev := newEvent(e.ID, typ)
		ev.Data = map[string]string{"n": fmt.Sprint(i)}
		if err := s.RecordEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
		all = append(all, ev.ID)
		if typ == "user.signed_in" {
			signIns = append(signIns, ev.ID)
		}
		// Noise in another environment and server-wide.
		if err := s.RecordEvent(ctx, newEvent(other.ID, typ)); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordEvent(ctx, newEvent("", typ)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		env   string
		types []string
		want  []string
	}{
		{"all", e.ID, nil, all},
		{"signed_in", e.ID, []string{"user.signed_in"}, signIns},
		{"server", "", []string{"user.signed_in", "user.sign_in_failed"}, nil},
	} {
		for _, order := range []store.Order{store.Asc, store.Desc} {
			t.Run(tc.name+"/"+string(order), func(t *testing.T) {
				var got []string
				var pages []store.Page[store.Event]
				p := store.ListParams{Limit: 7, Order: order}
				for {
					page, err := s.ListEvents(ctx, tc.env, tc.types, p)
					if err != nil {
						t.Fatal(err)
					}
					pages = append(pages, page)
					got = append(got, eventIDs(page)...)
					if page.After == "" {
						break
					}
					p.After = page.After
				}
				if tc.want == nil { // the server-wide noise: 25 events in ID order
					if len(got) != 25 || !slices.IsSortedFunc(got, func(a, b string) int {
						if order == store.Desc {
							a, b = b, a
						}
						return strings.Compare(a, b)
					}) {
						t.Fatalf("server-wide walk = %d events, sorted %v", len(got), got)
					}
					return
				}
				want := slices.Clone(tc.want)
				if order == store.Desc {
					slices.Reverse(want)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("forward walk (-want +got):\n%s", diff)
				}
				if len(pages) < 2 || pages[0].Before != "" || pages[len(pages)-1].After != "" || pages[1].Before != want[7] {
					t.Fatalf("cursors of %d pages: %+v", len(pages), pages)
				}
				// Backward from the second page returns the first exactly.
				back, err := s.ListEvents(ctx, tc.env, tc.types, store.ListParams{Limit: 7, Order: order, Before: pages[1].Before})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want[:7], eventIDs(back)); diff != "" || back.Before != "" || back.After != want[6] {
					t.Errorf("backward to the first page: before=%q after=%q (-want +got):\n%s", back.Before, back.After, diff)
				}
			})
		}
	}
	// Defaults: limit 10, newest first.
	page, _ := s.ListEvents(ctx, e.ID, nil, store.ListParams{})
	want := slices.Clone(all)
	slices.Reverse(want)
	if diff := cmp.Diff(want[:10], eventIDs(page)); diff != "" || page.After != want[9] {
		t.Errorf("default page after=%q (-want +got):\n%s", page.After, diff)
	}
}
