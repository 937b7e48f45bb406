package sqlite_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// Listing and searching 100,000 users stays fast, and every query seeks
// index ranges: EXPLAIN QUERY PLAN never shows a SCAN of users (a full
// table or full index walk), and a search is a multi-index OR over the
// four search indexes.
func TestUserScale(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000-user test skipped in -short mode")
	}
	db := newStore(t).(*sqlite.DB)
	storetest.RunUserScale(t, db, storetest.Scale{
		InsertUsers: db.InsertUsers,
		CheckPlan: func(t *testing.T, envID string, f store.UserFilter, p store.ListParams) {
			t.Helper()
			plan, err := db.ExplainListUsers(t.Context(), envID, f, p)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan, "\n")
			if strings.Contains(text, "SCAN users") {
				t.Errorf("ListUsers(%+v, %+v) scans users:\n%s", f, p, text)
			}
			want := []string{"SEARCH users USING INDEX users_environment_id (environment_id=?"}
			if f.Search != "" {
				want = []string{"MULTI-INDEX OR",
					"SEARCH users USING INDEX users_environment_email (environment_id=? AND email>? AND email<?)",
					"SEARCH users USING INDEX users_environment_first_name (environment_id=? AND first_name_lower>? AND first_name_lower<?)",
					"SEARCH users USING INDEX users_environment_last_name (environment_id=? AND last_name_lower>? AND last_name_lower<?)",
					"SEARCH users USING INDEX users_environment_name (environment_id=? AND name_lower>? AND name_lower<?)"}
			}
			for _, w := range want {
				if !strings.Contains(text, w) {
					t.Errorf("ListUsers(%+v, %+v): plan lacks %q:\n%s", f, p, w, text)
				}
			}
			t.Logf("plan for %+v %+v:\n%s", f, p, text)
		},
	})
}
