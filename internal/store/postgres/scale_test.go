package postgres_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// Listing and searching 100,000 users stays fast, and every query seeks
// indexes: EXPLAIN never shows a Seq Scan, a plain listing reads in ID
// order without sorting, and a selective search is a BitmapOr over the
// four search indexes.
func TestUserScale(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000-user test skipped in -short mode")
	}
	db := pgtest.New(t)
	storetest.RunUserScale(t, db, storetest.Scale{
		InsertUsers: db.InsertUsers,
		CheckPlan: func(t *testing.T, envID string, f store.UserFilter, p store.ListParams) {
			t.Helper()
			plan, err := db.ExplainListUsers(t.Context(), envID, f, p)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan, "\n")
			if strings.Contains(text, "Seq Scan") {
				t.Errorf("ListUsers(%+v, %+v) scans users:\n%s", f, p, text)
			}
			if f.Search == "" {
				if !strings.Contains(text, "Index Scan") || strings.Contains(text, "Sort") {
					t.Errorf("ListUsers(%+v, %+v) is not an index walk in ID order:\n%s", f, p, text)
				}
			} else {
				for _, w := range []string{"BitmapOr", "Bitmap Index Scan on users_environment_email_prefix",
					"Bitmap Index Scan on users_environment_first_name", "Bitmap Index Scan on users_environment_last_name",
					"Bitmap Index Scan on users_environment_name"} {
					if !strings.Contains(text, w) {
						t.Errorf("ListUsers(%+v, %+v): plan lacks %q:\n%s", f, p, w, text)
					}
				}
			}
			t.Logf("plan for %+v %+v:\n%s", f, p, text)
		},
	})
}
