package gosdk

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/sdk/go/gatehouse"
)

// apiError asserts err is an *APIError matching sentinel (if not nil) and
// carrying the server's request ID.
func apiError(t *testing.T, err error, sentinel error, status int) *gatehouse.APIError {
	t.Helper()
	var ae *gatehouse.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v (%T), want *APIError", err, err)
	}
	if ae.StatusCode != status || (sentinel != nil && !errors.Is(err, sentinel)) || ae.RequestID == "" {
		t.Fatalf("err = %v (status %d, request %q), want %d %v", err, ae.StatusCode, ae.RequestID, status, sentinel)
	}
	return ae
}

func TestTypedErrors(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		ctx := t.Context()
		client := ts.client(t, nil)

		// 401: a wrong API key, and a wrong client_secret on authenticate.
		wrong, _ := gatehouse.NewClient(ts.URL, "sk_test_wrong", ts.Env.ClientID)
		_, err := wrong.GetUser(ctx, "user_01ARYZ6S41TSV4RRFFQ69G5FAV")
		apiError(t, err, gatehouse.ErrUnauthorized, 401)
		_, err = wrong.AuthenticateWithCode(ctx, gatehouse.AuthenticateWithCodeParams{Code: "whatever"})
		if ae := apiError(t, err, gatehouse.ErrUnauthorized, 401); ae.ErrorCode != "invalid_client" {
			t.Fatalf("wrong secret: %+v", ae)
		}

		// 404.
		_, err = client.GetUser(ctx, "user_01ARYZ6S41TSV4RRFFQ69G5FAV")
		if ae := apiError(t, err, gatehouse.ErrNotFound, 404); ae.Code != "entity_not_found" || ae.Message == "" {
			t.Fatalf("404: %+v", ae)
		}
		_, err = client.GetUserByExternalID(ctx, "nobody")
		apiError(t, err, gatehouse.ErrNotFound, 404)

		// 409.
		if _, err := client.CreateUser(ctx, gatehouse.CreateUserParams{Email: "dup@example.com"}); err != nil {
			t.Fatal(err)
		}
		_, err = client.CreateUser(ctx, gatehouse.CreateUserParams{Email: "DUP@example.com"})
		if ae := apiError(t, err, gatehouse.ErrConflict, 409); ae.Code != "user_already_exists" {
			t.Fatalf("409: %+v", ae)
		}

		// 422 with field errors.
		_, err = client.CreateUser(ctx, gatehouse.CreateUserParams{Email: "not an email", Password: "short"})
		ae := apiError(t, err, gatehouse.ErrUnprocessable, 422)
		var fields []string
		for _, f := range ae.Errors {
			fields = append(fields, f.Field)
		}
		if !slices.Contains(fields, "email") || ae.Code != "invalid_request_parameters" {
			t.Fatalf("422: %+v", ae)
		}

		// 400 invalid_grant.
		_, err = client.AuthenticateWithCode(ctx, gatehouse.AuthenticateWithCodeParams{Code: "not-a-code"})
		if ae := apiError(t, err, gatehouse.ErrInvalidGrant, 400); ae.ErrorDescription == "" {
			t.Fatalf("invalid_grant: %+v", ae)
		}
		_, err = client.AuthenticateWithRefreshToken(ctx, gatehouse.AuthenticateWithRefreshTokenParams{RefreshToken: "not-a-token"})
		apiError(t, err, gatehouse.ErrInvalidGrant, 400)

		// 429 after repeated wrong passwords (seen without retries) ...
		if _, err := client.CreateUser(ctx, gatehouse.CreateUserParams{Email: "target@example.com", Password: userPassword}); err != nil {
			t.Fatal(err)
		}
		noRetry := ts.client(t, nil, gatehouse.WithMaxRetries(0))
		guess := gatehouse.AuthenticateWithPasswordParams{Email: "target@example.com", Password: "guess guess guess"}
		for i := range 5 {
			_, err = noRetry.AuthenticateWithPassword(ctx, guess)
			if ae := apiError(t, err, nil, 400); ae.Code != "invalid_credentials" || errors.Is(err, gatehouse.ErrRateLimited) {
				t.Fatalf("wrong password %d: %+v", i+1, ae)
			}
		}
		_, err = noRetry.AuthenticateWithPassword(ctx, guess)
		if ae := apiError(t, err, gatehouse.ErrRateLimited, 429); ae.RetryAfter <= 0 || !gatehouse.Retryable(err) {
			t.Fatalf("throttled: %+v", ae)
		}
		// ... while the default client waits out Retry-After and tries again,
		// reaching the password check.
		start := time.Now()
		_, err = client.AuthenticateWithPassword(ctx, guess)
		if ae := apiError(t, err, nil, 400); ae.Code != "invalid_credentials" || time.Since(start) < 500*time.Millisecond {
			t.Fatalf("retried after Retry-After: %v in %v", err, time.Since(start))
		}
		// The right password of another account is not throttled; that
		// account's email is not verified yet, so Gatehouse emails a code
		// and asks for it (403 email_verification_required).
		if _, err := client.CreateUser(ctx, gatehouse.CreateUserParams{Email: "other@example.com", Password: userPassword}); err != nil {
			t.Fatal(err)
		}
		_, err = client.AuthenticateWithPassword(ctx, gatehouse.AuthenticateWithPasswordParams{Email: "other@example.com", Password: userPassword})
		step := apiError(t, err, gatehouse.ErrEmailVerificationRequired, 403)
		if step.PendingAuthenticationToken == "" || step.EmailVerificationID == "" || step.Email != "other@example.com" {
			t.Fatalf("step-up error = %+v", step)
		}
		_, err = client.AuthenticateWithEmailVerification(ctx, gatehouse.AuthenticateWithEmailVerificationParams{
			Code: "000000", PendingAuthenticationToken: step.PendingAuthenticationToken})
		if ae := apiError(t, err, nil, 400); errors.Is(err, gatehouse.ErrEmailVerificationRequired) {
			t.Fatalf("wrong code: %+v", ae)
		}
		res, err := client.AuthenticateWithEmailVerification(ctx, gatehouse.AuthenticateWithEmailVerificationParams{
			Code: ts.lastCode(t, "other@example.com"), PendingAuthenticationToken: step.PendingAuthenticationToken})
		if err != nil || res.User.Email != "other@example.com" || !res.User.EmailVerified || res.AccessToken == "" {
			t.Fatalf("email verification grant: %+v, %v", res, err)
		}
		// Verified now: the password alone signs in.
		res, err = client.AuthenticateWithPassword(ctx, gatehouse.AuthenticateWithPasswordParams{Email: "other@example.com", Password: userPassword})
		if err != nil || res.User.Email != "other@example.com" || res.AuthenticationMethod != "Password" {
			t.Fatalf("password grant: %+v, %v", res, err)
		}

		// Sessions: revoking is idempotent (an unknown session is fine) ...
		if err := client.RevokeSession(ctx, "session_01ARYZ6S41TSV4RRFFQ69G5FAV"); err != nil {
			t.Fatalf("revoke unknown session: %v", err)
		}
		ss := listSessions(t, client, res.User.ID)
		if len(ss) != 2 {
			t.Fatalf("sessions = %+v", ss)
		}
		for id := range ss {
			if err := client.RevokeSession(ctx, id); err != nil {
				t.Fatal(err)
			}
			if st := listSessions(t, client, res.User.ID)[id].Status; st != "revoked" {
				t.Fatalf("revoked session is %q", st)
			}
		}
		// ... and ends the session's refresh token.
		_, err = client.AuthenticateWithRefreshToken(ctx, gatehouse.AuthenticateWithRefreshTokenParams{RefreshToken: res.RefreshToken})
		apiError(t, err, gatehouse.ErrInvalidGrant, 400)
		it := client.ListSessions(ctx, "user_01ARYZ6S41TSV4RRFFQ69G5FAV", gatehouse.ListParams{})
		if it.Next(ctx) || !errors.Is(it.Err(), gatehouse.ErrNotFound) {
			t.Fatalf("sessions of an unknown user: %v", it.Err())
		}
	})
}

func TestUsers(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		ctx := t.Context()
		client := ts.client(t, nil)
		u, err := client.CreateUser(ctx, gatehouse.CreateUserParams{Email: " Grace@Example.COM ", Password: userPassword,
			FirstName: "Grace", LastName: "Hopper", ExternalID: "g-1", EmailVerified: true, Metadata: map[string]string{"team": "navy"}})
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "grace@example.com" || !u.EmailVerified || u.FirstName != "Grace" || u.ExternalID != "g-1" ||
			u.Metadata["team"] != "navy" || u.LastSignInAt != nil || time.Since(u.CreatedAt) > time.Minute || u.CreatedAt.Location() != time.UTC {
			t.Fatalf("created = %+v", u)
		}
		got, err := client.GetUser(ctx, u.ID)
		if err != nil || got.ID != u.ID || !got.UpdatedAt.Equal(u.UpdatedAt) {
			t.Fatalf("get = %+v, %v", got, err)
		}
		if got, err := client.GetUserByExternalID(ctx, "g-1"); err != nil || got.ID != u.ID {
			t.Fatalf("by external ID = %+v, %v", got, err)
		}

		first, rank := "Amazing Grace", "admiral"
		up, err := client.UpdateUser(ctx, u.ID, gatehouse.UpdateUserParams{FirstName: &first,
			Metadata: map[string]*string{"team": nil, "rank": &rank}, Clear: []gatehouse.UserField{gatehouse.FieldLastName, gatehouse.FieldExternalID}})
		if err != nil {
			t.Fatal(err)
		}
		if up.FirstName != first || up.LastName != "" || up.ExternalID != "" || len(up.Metadata) != 1 || up.Metadata["rank"] != rank {
			t.Fatalf("updated = %+v", up)
		}
		email := "grace@navy.mil"
		if up, err = client.UpdateUser(ctx, u.ID, gatehouse.UpdateUserParams{Email: &email}); err != nil || up.EmailVerified || up.Email != email {
			t.Fatalf("email change = %+v, %v", up, err)
		}
		if _, err := client.UpdateUser(ctx, "user_01ARYZ6S41TSV4RRFFQ69G5FAV", gatehouse.UpdateUserParams{FirstName: &first}); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Fatalf("update unknown: %v", err)
		}

		if err := client.DeleteUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := client.GetUser(ctx, u.ID); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Fatalf("get deleted: %v", err)
		}
		if err := client.DeleteUser(ctx, u.ID); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
	})
}

func TestListUsersPagination(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		ctx := t.Context()
		cnt := &counter{}
		client := ts.client(t, cnt)
		var created []string
		for i := range 25 {
			u, err := client.CreateUser(ctx, gatehouse.CreateUserParams{Email: fmt.Sprintf("u%02d@example.com", i)})
			if err != nil {
				t.Fatal(err)
			}
			created = append(created, u.ID)
		}
		// Oldest first, 10 a page: 3 requests, every user once, in order.
		it := client.ListUsers(ctx, gatehouse.ListUsersParams{ListParams: gatehouse.ListParams{Limit: 10, Order: gatehouse.OrderAsc}})
		var seen []string
		for it.Next(ctx) {
			seen = append(seen, it.Current().ID)
		}
		if it.Err() != nil || !slices.Equal(seen, created) {
			t.Fatalf("walked %d users (%v), err %v", len(seen), seen, it.Err())
		}
		if n := cnt.get("GET /user_management/users"); n != 3 {
			t.Fatalf("%d list requests, want 3", n)
		}
		// Newest first (the default order), with range.
		seen = nil
		for u, err := range client.ListUsers(ctx, gatehouse.ListUsersParams{ListParams: gatehouse.ListParams{Limit: 10}}).All(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, u.ID)
		}
		slices.Reverse(seen)
		if !slices.Equal(seen, created) {
			t.Fatalf("newest first walked %d users", len(seen))
		}
		// Starting after a given user.
		it = client.ListUsers(ctx, gatehouse.ListUsersParams{ListParams: gatehouse.ListParams{Limit: 10, Order: gatehouse.OrderAsc, After: created[19]}})
		seen = nil
		for it.Next(ctx) {
			seen = append(seen, it.Current().ID)
		}
		if !slices.Equal(seen, created[20:]) {
			t.Fatalf("after the 20th: %v", seen)
		}
		// Filtered by email.
		it = client.ListUsers(ctx, gatehouse.ListUsersParams{Email: "U07@example.com"})
		if !it.Next(ctx) || it.Current().ID != created[7] || it.Next(ctx) || it.Err() != nil {
			t.Fatalf("by email: %v", it.Err())
		}
		// A bad parameter is a 422.
		it = client.ListUsers(ctx, gatehouse.ListUsersParams{ListParams: gatehouse.ListParams{Limit: 1000}})
		if it.Next(ctx) || !errors.Is(it.Err(), gatehouse.ErrUnprocessable) {
			t.Fatalf("limit 1000: %v", it.Err())
		}
	})
}
