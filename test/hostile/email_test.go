package hostile

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// api sends a JSON API request with the test key.
func (ts *testServer) api(t *testing.T, method, path string, body any) result {
	t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	return ts.send(t, request{Method: method, Target: path, Body: b,
		Header: [][2]string{{"Authorization", "Bearer " + ts.Key}, {"Content-Type", "application/json"}}})
}

// TestEmailLookalikes: no spelling of an existing address creates a second
// account that shadows it, and none signs in as, or sends codes for,
// another account.
func TestEmailLookalikes(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		const kind = "kate@example.com"
		r := ts.api(t, "POST", "/user_management/users", map[string]any{"email": kind, "password": adaPassword, "email_verified": true})
		if r.Status != 201 {
			t.Fatalf("create Kate: %s", r)
		}
		kate := r.jsonBody()["id"].(string)
		owner := map[string]string{adaEmail: ts.Ada.ID, kind: kate}
		adaBefore := ts.api(t, "GET", "/user_management/users/"+ts.Ada.ID, nil).Body

		type variant struct {
			email string
			class string // same:<address> (the same account), invalid, or distinct (another address)
		}
		variants := []variant{
			{"ADA@example.com", "same:" + adaEmail}, {"Ada@Example.COM", "same:" + adaEmail}, {" ada@example.com ", "same:" + adaEmail},
			{"ada@EXAMPLE.COM", "same:" + adaEmail}, {"\tada@example.com\n", "same:" + adaEmail},
			{"\u212Aate@example.com", "same:" + kind}, // KELVIN SIGN lowercases to k
			{"ada@example.com.", "invalid"}, {"ada@example..com", "invalid"}, {".ada@example.com", "invalid"}, {"ada.@example.com", "invalid"},
			{"ada..x@example.com", "invalid"}, {"<ada@example.com>", "invalid"}, {"Ada <ada@example.com>", "invalid"},
			{"ada@example.com,eve@evil.com", "invalid"}, {"ada@evil.com@example.com", "invalid"}, {`"ada"@example.com`, "invalid"},
			{"ada@[127.0.0.1]", "invalid"}, {"ada@example.com\x00", "invalid"}, {"ada@localhost", "invalid"}, {"ada @example.com", "invalid"},
			{"ada@example.com\r\nBcc: eve@evil.com", "invalid"}, {"ada@example.com (Ada)", "invalid"}, {"ada(x)@example.com", "invalid"},
			{"ada+tag@example.com", "distinct"}, {"ａｄａ@example.com", "distinct"}, {"аda@example.com", "distinct"},
			{"ada@exаmple.com", "distinct"}, {"ada\u200b@example.com", "distinct"}, {"ada@xn--exmple-cua.com", "distinct"},
			{"ada%example.com@evil.com", "distinct"}, {"ADA\u0301@example.com", "distinct"},
		}
		var notes []string
		for i, v := range variants {
			t.Run(fmt.Sprintf("%d %q", i, v.email), func(t *testing.T) {
				ts.clearThrottles(t)
				same, isSame := strings.CutPrefix(v.class, "same:")
				pw := fmt.Sprintf("look-alike passphrase %d", i)

				// The API's create.
				r := ts.api(t, "POST", "/user_management/users", map[string]any{"email": v.email, "password": pw})
				created := ""
				switch {
				case r.Status == 201:
					created = r.jsonBody()["id"].(string)
					email := r.jsonBody()["email"].(string)
					if isSame || v.class == "invalid" || owner[email] != "" {
						t.Errorf("BUG: POST /users %q created %s with email %q (class %s)", v.email, created, email, v.class)
					}
					notes = append(notes, fmt.Sprintf("%q is accepted as a separate account (stored as %q)", v.email, email))
				case isSame && r.Status != 409:
					t.Errorf("BUG: POST /users %q: %s, want 409 (the address is %s's)", v.email, r, same)
				case v.class == "invalid" && r.Status != 422 && !(r.Status == 400 && r.jsonBody()["code"] == "invalid_text"):
					// 422 names the field; text that is not valid UTF-8 or
					// holds a NUL is refused earlier as 400 invalid_text.
					t.Errorf("BUG: POST /users %q: %s, want 422 (or 400 invalid_text)", v.email, r)
				case r.Status >= 500:
					t.Errorf("BUG: POST /users %q: %s", v.email, r)
				}

				// The hosted sign-up.
				form := url.Values{"csrf_token": {csrf}, "request": {ts.pendingRequest(t)}, "email": {v.email}, "password": {pw + " again"}}
				r = ts.send(t, request{Method: "POST", Target: "/hosted/" + ts.Env.ClientID + "/sign-up", Body: []byte(form.Encode()),
					Header: [][2]string{{"Content-Type", "application/x-www-form-urlencoded"}, {"Cookie", "gh_csrf=" + csrf}}})
				if r.Status == 303 && (isSame || v.class == "invalid" || created != "") {
					t.Errorf("BUG: hosted sign-up %q went on to %q (class %s)", v.email, r.Header.Get("Location"), v.class)
				} else if r.Status != 303 && r.Status != 422 && r.Status != 400 {
					t.Errorf("BUG: hosted sign-up %q: %s", v.email, r)
				}

				// Password sign-in with the owner's password, then with the
				// look-alike account's own.
				for _, p := range []string{adaPassword, pw} {
					r = ts.passwordGrant(t, v.email, p, "192.0.2.10")
					if r.Status == 200 {
						var body struct {
							User struct{ ID, Email string }
						}
						json.Unmarshal(r.Body, &body)
						switch {
						case isSame && p == adaPassword && body.User.ID == owner[same]:
						case !isSame && created != "" && p == pw && body.User.ID == created:
						default:
							t.Errorf("BUG: signing in as %q with %q gave user %s (%s)", v.email, p, body.User.ID, body.User.Email)
						}
					} else if r.Status >= 500 || (isSame && p == adaPassword) {
						t.Errorf("BUG: signing in as %q: %s", v.email, r)
					}
				}

				// Magic auth and password reset: a code or link for an
				// account only ever goes to that account's address.
				for _, path := range []string{"/user_management/magic_auth", "/user_management/password_reset"} {
					r = ts.api(t, "POST", path, map[string]any{"email": v.email})
					if r.Status >= 500 {
						t.Errorf("BUG: %s %q: %s", path, v.email, r)
						continue
					}
					if r.Status != 201 {
						if isSame {
							t.Errorf("BUG: %s %q: %s, want 201 for %s", path, v.email, r, same)
						}
						continue
					}
					m := r.jsonBody()
					uid, _ := m["user_id"].(string)
					email, _ := m["email"].(string)
					for addr, id := range owner {
						if uid == id && email != addr {
							t.Errorf("BUG: %s %q: a challenge for %s's account goes to %q", path, v.email, addr, email)
						}
					}
					if v.class == "invalid" {
						t.Errorf("BUG: %s accepted the invalid address %q as %q", path, v.email, email)
					}
				}

				// The real owner is untouched and still the only match.
				r = ts.api(t, "GET", "/user_management/users?email="+url.QueryEscape(adaEmail), nil)
				var list struct {
					Data []struct{ ID string }
				}
				json.Unmarshal(r.Body, &list)
				if len(list.Data) != 1 || list.Data[0].ID != ts.Ada.ID {
					t.Errorf("BUG: looking up %s now finds %s", adaEmail, r)
				}
				if created != "" {
					ts.api(t, "DELETE", "/user_management/users/"+created, nil)
				}
				if loc := r.Header.Get("Location"); loc != "" {
					t.Errorf("unexpected Location %q", loc)
				}
			})
		}
		if after := ts.api(t, "GET", "/user_management/users/"+ts.Ada.ID, nil).Body; string(after) != string(adaBefore) {
			// last_sign_in_at moves when a same-address variant signs in; compare the rest.
			var a, b map[string]any
			json.Unmarshal(adaBefore, &a)
			json.Unmarshal(after, &b)
			delete(a, "last_sign_in_at")
			delete(b, "last_sign_in_at")
			delete(a, "updated_at")
			delete(b, "updated_at")
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("BUG: Ada changed:\nbefore %s\nafter  %s", adaBefore, after)
			}
		}
		for _, n := range notes {
			t.Logf("NOTE (policy, not a failure): %s", n)
		}
	})
}

// TestSQLMetacharactersRoundTrip: SQL and LIKE metacharacters in every
// free-text field are stored and returned exactly, find only their own
// row, and create exactly one row.
func TestSQLMetacharactersRoundTrip(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		before := ts.snapshot(t)
		weird := `x' OR '1'='1' --; DROP TABLE users; /* % _ \ " ` + "`"
		email := `o'brien+%_x@example.com`
		in := map[string]any{"email": email, "password": weird, "first_name": weird, "last_name": `"; DELETE FROM sessions; --`,
			"name": `%' OR name LIKE '%`, "external_id": `ext' OR 'a'='a`, "metadata": map[string]string{`k'; --`: weird, "%": "_"}, "email_verified": true}
		r := ts.api(t, "POST", "/user_management/users", in)
		if r.Status != 201 {
			t.Fatalf("create: %s", r)
		}
		id := r.jsonBody()["id"].(string)
		for _, path := range []string{"/user_management/users/" + id, "/user_management/users/external_id/" + url.PathEscape(`ext' OR 'a'='a`)} {
			r := ts.api(t, "GET", path, nil)
			m := r.jsonBody()
			if r.Status != 200 || m["id"] != id || m["email"] != email || m["first_name"] != weird || m["name"] != `%' OR name LIKE '%` {
				t.Errorf("BUG: GET %s: %s", path, r)
			}
			if md, _ := m["metadata"].(map[string]any); md[`k'; --`] != weird || md["%"] != "_" {
				t.Errorf("BUG: metadata came back as %v", m["metadata"])
			}
		}
		r = ts.api(t, "GET", "/user_management/users?email="+url.QueryEscape(email), nil)
		if n := strings.Count(string(r.Body), `"object":"user"`); n != 1 {
			t.Errorf("BUG: listing by %q found %d users: %s", email, n, r)
		}
		if r := ts.passwordGrant(t, email, weird, "192.0.2.20"); r.Status != 200 {
			t.Errorf("BUG: signing in with the metacharacter password: %s", r)
		}
		after := ts.snapshot(t)
		d := changed(before, after, map[string]bool{"users.sum": true, "sessions": true, "sessions.live": true, "refresh_tokens": true, "events": true, "throttles": true})
		if len(d) != 1 || !strings.HasPrefix(d[0], "users ") {
			t.Errorf("BUG: want exactly one more user, got changes %v", d)
		}
		ts.healthy(t)
	})
}
