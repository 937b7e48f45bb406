package admin_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/users"
)

func usersCreate(email, pw string) users.CreateInput {
	return users.CreateInput{Email: email, Password: &pw}
}

func TestUserNamesAreEscaped(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		evil := "<script>alert(1)</script>"
		u, err := ts.Srv.Users.Create(t.Context(), ts.Env.ID, users.CreateInput{Email: "xss@example.com", FirstName: &evil, LastName: &evil})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := signedIn(t, ts, "escape@example.com")
		for _, path := range []string{ts.envPath("users"), ts.envPath("users?q=" + url.QueryEscape(evil)), ts.envPath("users/" + u.ID),
			ts.envPath("users/" + u.ID + "/delete")} {
			p := b.get(path).want(t, http.StatusOK)
			if strings.Contains(p.Body, evil) {
				t.Fatalf("%s: raw script in the page:\n%s", path, p.Body)
			}
			if path != ts.envPath("users/"+u.ID+"/delete") {
				p.contains(t, "&lt;script&gt;alert(1)&lt;/script&gt;")
			}
		}
		// The search box echoes the query escaped too.
		b.get(ts.envPath("users?q="+url.QueryEscape(`"><script>x</script>`))).want(t, http.StatusOK).
			contains(t, `value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"`)
	})
}

var userRowRE = regexp.MustCompile(`<tr data-user-id="(user_[0-9A-Z]+)">`)
var nextRE = regexp.MustCompile(`href="([^"]+)" rel="next"`)
var prevRE = regexp.MustCompile(`href="([^"]+)" rel="prev"`)

func unescapeHref(s string) string { return strings.ReplaceAll(s, "&amp;", "&") }

func TestUsersPaginationAndSearch(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		ctx := t.Context()
		now := store.Now()
		const n = 260
		for i := range n {
			email := fmt.Sprintf("person%03d@example.com", i)
			first := "Person"
			if i%10 == 0 {
				email = fmt.Sprintf("zed%03d@example.com", i)
				first = "Zed"
			}
			if i == 7 {
				first = "Ada"
			}
			u := &store.User{ID: ids.New("user"), EnvironmentID: ts.Env.ID, Email: email, FirstName: &first,
				Metadata: map[string]string{}, CreatedAt: now, UpdatedAt: now}
			if err := ts.Store.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		b, _ := signedIn(t, ts, "pages@example.com")

		// Walk forward through every page, then back.
		seen := map[string]bool{}
		path := ts.envPath("users")
		var pages []string
		for {
			p := b.get(path).want(t, http.StatusOK)
			rows := userRowRE.FindAllStringSubmatch(p.Body, -1)
			if len(rows) == 0 || len(rows) > 50 {
				t.Fatalf("%s: %d rows", path, len(rows))
			}
			for _, r := range rows {
				if seen[r[1]] {
					t.Fatalf("user %s on two pages", r[1])
				}
				seen[r[1]] = true
			}
			pages = append(pages, path)
			m := nextRE.FindStringSubmatch(p.Body)
			if m == nil {
				break
			}
			path = unescapeHref(m[1])
		}
		if len(seen) != n || len(pages) != 6 {
			t.Fatalf("saw %d users on %d pages, want %d on 6", len(seen), len(pages), n)
		}
		// Previous from the last page shows the fifth page's users.
		last := b.get(pages[len(pages)-1])
		prev := prevRE.FindStringSubmatch(last.Body)
		if prev == nil {
			t.Fatal("no previous link on the last page")
		}
		fifth := userRowRE.FindAllStringSubmatch(b.get(pages[4]).Body, -1)
		back := userRowRE.FindAllStringSubmatch(b.get(unescapeHref(prev[1])).Body, -1)
		if len(back) != 50 || back[0][1] != fifth[0][1] || back[49][1] != fifth[49][1] {
			t.Fatalf("previous page differs from the fifth")
		}
		first := b.get(ts.envPath("users")).Body
		if prevRE.MatchString(first) {
			t.Error("the first page has a previous link")
		}

		// Search by email prefix and by name prefix, case-insensitively.
		p := b.get(ts.envPath("users?q=ZED")).want(t, http.StatusOK)
		if got := len(userRowRE.FindAllString(p.Body, -1)); got != n/10 {
			t.Fatalf("search zed: %d rows, want %d", got, n/10)
		}
		p = b.get(ts.envPath("users?q=ada")).want(t, http.StatusOK).contains(t, "person007@example.com")
		if got := len(userRowRE.FindAllString(p.Body, -1)); got != 1 {
			t.Fatalf("search ada: %d rows", got)
		}
		p = b.get(ts.envPath("users?q=person0")).want(t, http.StatusOK)
		if got := len(userRowRE.FindAllString(p.Body, -1)); got != 50 {
			t.Fatalf("search person0: %d rows, want a full page", got)
		}
		// A search's next link keeps the query.
		m := nextRE.FindStringSubmatch(p.Body)
		if m == nil || !strings.Contains(m[1], "q=person0") {
			t.Fatalf("next link of a search = %v", m)
		}
		p = b.get(unescapeHref(m[1])).want(t, http.StatusOK)
		for _, r := range userRowRE.FindAllStringSubmatch(p.Body, -1) {
			u, _ := ts.Store.GetUser(ctx, ts.Env.ID, r[1])
			if !strings.HasPrefix(u.Email, "person0") {
				t.Fatalf("page 2 of the search shows %s", u.Email)
			}
		}
		b.get(ts.envPath("users?q=nobody-matches")).want(t, http.StatusOK).contains(t, "No users match")
	})
}

func TestUserPageEditRevokeDelete(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		ctx := t.Context()
		u, err := ts.Srv.Users.Create(ctx, ts.Env.ID, usersCreate("grace@example.com", "a long enough passphrase"))
		if err != nil {
			t.Fatal(err)
		}
		other, _ := ts.Srv.Users.Create(ctx, ts.Env.ID, usersCreate("taken@example.com", "a long enough passphrase"))
		now := ts.Clock.Now().UTC().Truncate(time.Millisecond)
		sess := &store.Session{ID: ids.New("session"), EnvironmentID: ts.Env.ID, UserID: u.ID, ClientID: ts.Env.ClientID,
			AuthMethod: "password", IPAddress: "203.0.113.9", UserAgent: "Test/1.0", CreatedAt: now, UpdatedAt: now,
			LastActiveAt: now, ExpiresAt: now.Add(24 * time.Hour)}
		if err := ts.Store.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		b, a := signedIn(t, ts, "users@example.com")
		p := b.get(ts.envPath("users/"+u.ID)).want(t, http.StatusOK).
			contains(t, "grace@example.com", "No linked identities", `data-session-id="`+sess.ID+`" data-status="active"`, "203.0.113.9", `id="revoke-`+sess.ID+`"`)

		// Revoke ends the session.
		p = b.post(ts.envPath("users/"+u.ID+"/sessions/"+sess.ID+"/revoke"), nil).want(t, http.StatusSeeOther)
		got, _ := ts.Store.GetSession(ctx, ts.Env.ID, sess.ID)
		if got.EndedAt == nil {
			t.Fatal("session not ended")
		}
		b.get(p.Location).want(t, http.StatusOK).contains(t, `data-status="revoked"`, "Session revoked.")
		// A session of another user cannot be revoked through this one.
		b.post(ts.envPath("users/"+other.ID+"/sessions/"+sess.ID+"/revoke"), nil).want(t, http.StatusNotFound)
		if ev := events(t, ts, ts.Env.ID, admin.EventSessionRevoked); len(ev) != 1 || ev[0].TargetID != sess.ID || ev[0].ActorID != a.ID || ev[0].ActorType != "admin" || ev[0].Data["user_id"] != u.ID {
			t.Fatalf("session_revoked events = %+v", ev)
		}
		if ev := events(t, ts, ts.Env.ID, authflow.EventSessionRevoke); len(ev) != 1 || ev[0].TargetID != sess.ID {
			t.Fatalf("session.revoked events = %+v, want one for the session", ev)
		}

		// Edit: invalid email, taken email, then a good change.
		b.post(ts.envPath("users/"+u.ID), url.Values{"email": {"not an email"}, "first_name": {"Grace"}}).want(t, http.StatusUnprocessableEntity).contains(t, `id="email-error"`)
		b.post(ts.envPath("users/"+u.ID), url.Values{"email": {"taken@example.com"}}).want(t, http.StatusUnprocessableEntity).contains(t, "already exists")
		b.post(ts.envPath("users/"+u.ID), url.Values{"email": {"Grace.Hopper@example.com"}, "first_name": {"Grace"}, "last_name": {"Hopper"}}).want(t, http.StatusSeeOther)
		u2, _ := ts.Store.GetUser(ctx, ts.Env.ID, u.ID)
		if u2.Email != "grace.hopper@example.com" || *u2.FirstName != "Grace" || *u2.LastName != "Hopper" {
			t.Fatalf("after edit = %+v", u2)
		}
		if ev := events(t, ts, ts.Env.ID, admin.EventUserUpdated); len(ev) != 1 || ev[0].Data["email"] != "grace.hopper@example.com" {
			t.Fatalf("user_updated events = %+v", ev)
		}

		// Delete needs the typed email.
		b.get(ts.envPath("users/"+u.ID+"/delete")).want(t, http.StatusOK).contains(t, `id="confirm_email"`)
		b.post(ts.envPath("users/"+u.ID+"/delete"), url.Values{"confirm_email": {"wrong@example.com"}}).want(t, http.StatusUnprocessableEntity)
		if _, err := ts.Store.GetUser(ctx, ts.Env.ID, u.ID); err != nil {
			t.Fatal("deleted without confirmation")
		}
		b.post(ts.envPath("users/"+u.ID+"/delete"), url.Values{"confirm_email": {"GRACE.HOPPER@example.com"}}).want(t, http.StatusSeeOther)
		if _, err := ts.Store.GetUser(ctx, ts.Env.ID, u.ID); err == nil {
			t.Fatal("user not deleted")
		}
		b.get(ts.envPath("users/"+u.ID)).want(t, http.StatusNotFound)
		if ev := events(t, ts, ts.Env.ID, admin.EventUserDeleted); len(ev) != 1 || ev[0].TargetID != u.ID {
			t.Fatalf("user_deleted events = %+v", ev)
		}
		// Pages of another environment's user are not found here.
		env2, _ := ts.Srv.Environments.Create(ctx, "Other", store.Production)
		b.get("/admin/env/"+env2.ID+"/users/"+other.ID).want(t, http.StatusNotFound)
	})
}
