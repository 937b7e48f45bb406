package ids

import (
	"sort"
	"strings"
	"testing"
	"time"
)

func TestNewIsSortedAndValid(t *testing.T) {
	var got []string
	for range 1000 {
		got = append(got, New("user"))
	}
	if !sort.StringsAreSorted(got) {
		t.Fatal("IDs made in sequence are not sorted")
	}
	seen := map[string]bool{}
	for _, id := range got {
		if !Valid(id, "user") {
			t.Fatalf("Valid(%q) = false", id)
		}
		if seen[id] {
			t.Fatalf("duplicate ID %q", id)
		}
		seen[id] = true
	}
}

func TestEncodeTimestamp(t *testing.T) {
	// The ULID spec's example timestamp 1469918176385 encodes to 01ARYZ6S41.
	id := format(uint64(time.UnixMilli(1469918176385).UnixMilli()), [10]byte{})
	if !strings.HasPrefix(id, "01ARYZ6S41") {
		t.Fatalf("timestamp part = %s, want 01ARYZ6S41", id[:10])
	}
}

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"user_01ARYZ6S41TSV4RRFFQ69G5FAV", true},
		{"user_01ARYZ6S41TSV4RRFFQ69G5FA", false},   // short
		{"user_01ARYZ6S41TSV4RRFFQ69G5FAVX", false}, // long
		{"user_81ARYZ6S41TSV4RRFFQ69G5FAV", false},  // overflows 128 bits
		{"user_01ARYZ6S41TSV4RRFFQ69G5FAU", false},  // U is not Crockford
		{"org_01ARYZ6S41TSV4RRFFQ69G5FAV", false},
		{"", false},
		{"user_' OR 1=1 --xxxxxxxxxxxxxxx", false},
	} {
		if got := Valid(tc.id, "user"); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestFloor(t *testing.T) {
	at := time.UnixMilli(1_790_000_000_123).Add(456 * time.Microsecond)
	floor := Floor("event", at)
	if !Valid(floor, "event") {
		t.Fatalf("Floor = %q, not a valid ID", floor)
	}
	ms := uint64(at.UnixMilli())
	var ones [10]byte
	for i := range ones {
		ones[i] = 0xff
	}
	for _, tc := range []struct {
		name  string
		id    string
		below bool
	}{
		{"last ID of the millisecond before", "event_" + format(ms-1, ones), true},
		{"an ID of a second before", "event_" + format(ms-1000, [10]byte{1, 2, 3}), true},
		{"first ID of its millisecond", "event_" + format(ms, [10]byte{}), false},
		{"an ID of its millisecond", "event_" + format(ms, [10]byte{9: 1}), false},
		{"an ID of the millisecond after", "event_" + format(ms+1, [10]byte{}), false},
		{"a fresh ID", New("event"), false},
	} {
		if got := tc.id < floor; got != tc.below {
			t.Errorf("%s: %q < Floor %q is %v, want %v", tc.name, tc.id, floor, got, tc.below)
		}
	}
	if got, want := Floor("event", time.Unix(-5, 0)), "event_"+format(0, [10]byte{}); got != want {
		t.Errorf("Floor before 1970 = %q, want %q", got, want)
	}
}
