package gatehouse

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestSessionDataJSONMatchesNode(t *testing.T) {
	created := time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	signIn := created.Add(time.Hour)
	full := SessionData{
		OrganizationID: "org_1",
		User: User{ID: "user_1", Email: "a@b.c", EmailVerified: true, Name: "Ada L", FirstName: "Ada", LastName: "L",
			ProfilePictureURL: "https://p/x.png", LastSignInAt: &signIn, Locale: "en-GB", ExternalID: "ext",
			Metadata: map[string]string{"k": "v"}, CreatedAt: created, UpdatedAt: created},
		AccessToken: "a.b.c", RefreshToken: "rt", AuthenticationMethod: "Password",
		Impersonator: &Impersonator{Email: "admin@b.c"},
	}
	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"organizationId":"org_1","user":{"object":"user","id":"user_1","email":"a@b.c","emailVerified":true,"name":"Ada L",` +
		`"firstName":"Ada","profilePictureUrl":"https://p/x.png","lastName":"L","lastSignInAt":"2024-01-02T04:04:05.006Z","locale":"en-GB",` +
		`"createdAt":"2024-01-02T03:04:05.006Z","updatedAt":"2024-01-02T03:04:05.006Z","externalId":"ext","metadata":{"k":"v"}},` +
		`"accessToken":"a.b.c","refreshToken":"rt","authenticationMethod":"Password","impersonator":{"email":"admin@b.c","reason":null}}`
	if string(b) != want {
		t.Fatalf("JSON:\n got %s\nwant %s", b, want)
	}
	var back SessionData
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, full) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, full)
	}

	// Absent optional keys are omitted (JSON.stringify drops undefined);
	// nullable user fields are null; metadata defaults to {}.
	b, _ = json.Marshal(SessionData{User: User{ID: "user_2", Email: "x@y.z", CreatedAt: created, UpdatedAt: created}, AccessToken: "t", RefreshToken: "r"})
	want = `{"user":{"object":"user","id":"user_2","email":"x@y.z","emailVerified":false,"name":null,"firstName":null,` +
		`"profilePictureUrl":null,"lastName":null,"lastSignInAt":null,"locale":null,"createdAt":"2024-01-02T03:04:05.006Z",` +
		`"updatedAt":"2024-01-02T03:04:05.006Z","externalId":null,"metadata":{}},"accessToken":"t","refreshToken":"r"}`
	if string(b) != want {
		t.Fatalf("minimal JSON:\n got %s\nwant %s", b, want)
	}
}

func TestSealSessionRoundTrip(t *testing.T) {
	d := &SessionData{User: User{ID: "user_1", Email: "a@b.c", CreatedAt: time.UnixMilli(1700000000123).UTC(), UpdatedAt: time.UnixMilli(1700000000123).UTC()},
		AccessToken: "x.y.z", RefreshToken: "r"}
	s, err := SealSession(d, vectorPassword)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnsealSession(s, vectorPassword)
	if err != nil {
		t.Fatal(err)
	}
	d.User.Metadata = map[string]string{}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("got %+v, want %+v", got, d)
	}
	if _, err := UnsealSession(s, vectorPassword+"!"); err == nil {
		t.Fatal("unsealed with another password")
	}
}
