package tokens

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/store/sqlite/sqlitetest"
)

// clock is a fake clock shared by the nodes of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: store.Truncate(time.Now())} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openDB opens a migrated SQLite database at path.
func openDB(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	return sqlitetest.Open(t, path)
}

func newDB(t *testing.T) *sqlite.DB {
	t.Helper()
	return openDB(t, filepath.Join(t.TempDir(), "g.db"))
}

// newEnv creates an environment and returns it as the store reads it back.
func newEnv(t *testing.T, db store.Store, alg string, ttl time.Duration) *store.Environment {
	t.Helper()
	now := store.Now()
	e := &store.Environment{
		ID: ids.New("environment"), Name: "test", Type: store.Development, ClientID: ids.New("client"),
		CORSOrigins: []string{}, AccessTokenTTL: ttl, SigningAlgorithm: alg, CreatedAt: now, UpdatedAt: now,
	}
	if err := db.CreateEnvironment(t.Context(), e); err != nil {
		t.Fatalf("CreateEnvironment: %v", err)
	}
	e, err := db.GetEnvironment(t.Context(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func newBox(t *testing.T) *secretbox.Box {
	t.Helper()
	k, err := secretbox.ParseKey(secretbox.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	b, err := secretbox.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustSigner(t *testing.T, r *Keyring, env *store.Environment) *Key {
	t.Helper()
	k, err := r.Signer(t.Context(), env)
	if err != nil {
		t.Fatalf("Signer: %v", err)
	}
	return k
}

// kids returns the key IDs in the keyring's JWKS for env, in order, after
// checking the JWKS parses.
func kids(t *testing.T, r *Keyring, envID string) []string {
	t.Helper()
	raw, err := r.JWKS(t.Context(), envID)
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	set, err := ParseJWKS(raw)
	if err != nil {
		t.Fatalf("ParseJWKS(%s): %v", raw, err)
	}
	out := []string{}
	for _, k := range set.Keys {
		out = append(out, k.ID)
	}
	return out
}

func TestKeyringFirstKeyConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	dbA, dbB := openDB(t, path), openDB(t, path)
	env := newEnv(t, dbA, "", 0)
	box := newBox(t)
	nodes := []*Keyring{{Store: dbA, Box: box}, {Store: dbB, Box: box}}

	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() {
			k, err := nodes[i%2].Signer(context.Background(), env)
			if err != nil {
				t.Errorf("Signer %d: %v", i, err)
				return
			}
			got[i] = k.ID
		})
	}
	wg.Wait()
	for i, id := range got {
		if id == "" || id != got[0] {
			t.Fatalf("Signer %d returned key %q; Signer 0 returned %q", i, id, got[0])
		}
	}
	list, err := dbA.ListSigningKeys(t.Context(), env.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != got[0] {
		t.Fatalf("store has %d keys (%+v), want only %s", len(list), list, got[0])
	}
	if list[0].Algorithm != RS256 || list[0].EnvironmentID != env.ID || list[0].ExpiresAt != nil {
		t.Errorf("stored key = %+v", list[0])
	}
	for i, r := range nodes {
		if ks := kids(t, r, env.ID); !slices.Equal(ks, got[:1]) {
			t.Errorf("node %d JWKS kids = %v, want %v", i, ks, got[:1])
		}
	}
}

func TestKeyringSignVerify(t *testing.T) {
	db := newDB(t)
	env := newEnv(t, db, "", 0)
	r := &Keyring{Store: db, Box: newBox(t)}
	k := mustSigner(t, r, env)
	now := time.Now()
	tok, err := Sign(k, testClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := r.JWKS(t.Context(), env.ID)
	if err != nil {
		t.Fatal(err)
	}
	set, err := ParseJWKS(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(tok, set, now, testIssuer); err != nil {
		t.Errorf("Verify against JWKS(): %v", err)
	}
	ks, err := r.KeySet(t.Context(), env.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(tok, ks, now, testIssuer); err != nil {
		t.Errorf("Verify against KeySet(): %v", err)
	}

	// The JWKS is exactly the stored public JWK in a set, with every member
	// the WorkOS OpenAPI document lists.
	list, _ := db.ListSigningKeys(t.Context(), env.ID, now)
	if want := `{"keys":[` + list[0].PublicJWK + `]}`; string(raw) != want {
		t.Errorf("JWKS = %s, want %s", raw, want)
	}
	var doc struct{ Keys []map[string]any }
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"alg", "kty", "use", "kid", "n", "e", "x5c", "x5t#S256"} {
		if _, ok := doc.Keys[0][m]; !ok {
			t.Errorf("JWKS key lacks %q", m)
		}
	}
}

func TestKeyringRotate(t *testing.T) {
	db := newDB(t)
	const ttl = 15 * time.Minute
	env := newEnv(t, db, RS256, ttl)
	clk := newClock()
	r := &Keyring{Store: db, Box: newBox(t), Now: clk.Now}
	old := mustSigner(t, r, env)
	oldTok, err := Sign(old, testClaims(clk.Now()))
	if err != nil {
		t.Fatal(err)
	}

	start := clk.Now()
	next, err := r.Rotate(t.Context(), env, DefaultPublishAhead)
	if err != nil {
		t.Fatal(err)
	}
	activates := start.Add(DefaultPublishAhead)
	if !next.ActivatesAt.Equal(activates) || next.EnvironmentID != env.ID || next.Algorithm != RS256 || next.ExpiresAt != nil {
		t.Errorf("Rotate = %+v, want activation at %v", next, activates)
	}
	list, _ := db.ListSigningKeys(t.Context(), env.ID, clk.Now())
	retire := activates.Add(ttl + time.Minute)
	if len(list) != 2 || list[0].ID != old.ID || list[0].ExpiresAt == nil || !list[0].ExpiresAt.Equal(retire) {
		t.Fatalf("after Rotate the store lists %+v; want %s retiring at %v", list, old.ID, retire)
	}

	// Published at once, but the old key keeps signing.
	if got, want := kids(t, r, env.ID), []string{old.ID, next.ID}; !slices.Equal(got, want) {
		t.Errorf("JWKS kids after Rotate = %v, want %v", got, want)
	}
	for _, d := range []time.Duration{0, time.Minute, DefaultPublishAhead - time.Millisecond} {
		clk.Set(start.Add(d))
		if k := mustSigner(t, r, env); k.ID != old.ID {
			t.Errorf("at activation-%v Signer = %s, want the old key %s", DefaultPublishAhead-d, k.ID, old.ID)
		}
	}

	// From activation the new key signs; the old one stays published until
	// every token it signed has expired.
	clk.Set(activates)
	nk := mustSigner(t, r, env)
	if nk.ID != next.ID {
		t.Fatalf("at activation Signer = %s, want %s", nk.ID, next.ID)
	}
	set, _ := r.KeySet(t.Context(), env.ID)
	lastOld, err := Sign(old, Claims{ExpiresAt: activates.Add(ttl).Unix()}) // the latest token the old key can have made
	if err != nil {
		t.Fatal(err)
	}
	newTok, _ := Sign(nk, testClaims(clk.Now()))
	for name, tok := range map[string]string{"old": oldTok, "last old": lastOld, "new": newTok} {
		if _, err := Verify(tok, set, clk.Now(), ""); err != nil && !(name == "old" && errors.Is(err, ErrExpired)) {
			t.Errorf("Verify %s token: %v", name, err)
		}
	}
	clk.Set(retire.Add(-time.Millisecond))
	if got, want := kids(t, r, env.ID), []string{old.ID, next.ID}; !slices.Equal(got, want) {
		t.Errorf("JWKS just before retirement = %v, want %v", got, want)
	}
	set, _ = r.KeySet(t.Context(), env.ID)
	if _, err := Verify(lastOld, set, activates.Add(ttl-time.Second), ""); err != nil {
		t.Errorf("last old token: %v", err)
	}
	clk.Set(retire)
	if got, want := kids(t, r, env.ID), []string{next.ID}; !slices.Equal(got, want) {
		t.Errorf("JWKS at retirement = %v, want %v", got, want)
	}
	if k := mustSigner(t, r, env); k.ID != next.ID {
		t.Errorf("after retirement Signer = %s, want %s", k.ID, next.ID)
	}
}

func TestKeyringRotateImmediately(t *testing.T) {
	db := newDB(t)
	env := newEnv(t, db, "", 0)
	r := &Keyring{Store: db, Box: newBox(t)}
	old := mustSigner(t, r, env)
	next, err := r.Rotate(t.Context(), env, 0)
	if err != nil {
		t.Fatal(err)
	}
	if k := mustSigner(t, r, env); k.ID != next.ID || k.ID == old.ID {
		t.Errorf("Signer after Rotate(0) = %s, want %s", k.ID, next.ID)
	}
	if _, err := r.Rotate(t.Context(), env, -time.Second); err == nil {
		t.Error("Rotate with a negative publish-ahead succeeded")
	}
}

func TestKeyringOtherNodeSeesRotation(t *testing.T) {
	db := newDB(t)
	env := newEnv(t, db, "", 0)
	clk := newClock()
	box := newBox(t)
	a := &Keyring{Store: db, Box: box, Now: clk.Now}
	b := &Keyring{Store: db, Box: box, Now: clk.Now}
	old := mustSigner(t, a, env)
	if k := mustSigner(t, b, env); k.ID != old.ID {
		t.Fatalf("node b signs with %s, node a with %s", k.ID, old.ID)
	}
	if got := kids(t, b, env.ID); !slices.Equal(got, []string{old.ID}) {
		t.Fatalf("node b JWKS = %v", got)
	}

	next, err := a.Rotate(t.Context(), env, DefaultPublishAhead)
	if err != nil {
		t.Fatal(err)
	}
	both := []string{old.ID, next.ID}
	if got := kids(t, a, env.ID); !slices.Equal(got, both) {
		t.Errorf("node a JWKS = %v, want %v", got, both)
	}
	clk.Advance(cacheTTL - time.Millisecond)
	if got := kids(t, b, env.ID); !slices.Equal(got, []string{old.ID}) {
		t.Errorf("node b JWKS before its cache ages = %v, want the cached %v", got, []string{old.ID})
	}
	clk.Advance(time.Millisecond)
	if got := kids(t, b, env.ID); !slices.Equal(got, both) {
		t.Errorf("node b JWKS after its cache ages = %v, want %v", got, both)
	}
	clk.Advance(DefaultPublishAhead - cacheTTL)
	for name, r := range map[string]*Keyring{"a": a, "b": b} {
		if k := mustSigner(t, r, env); k.ID != next.ID {
			t.Errorf("node %s at activation signs with %s, want %s", name, k.ID, next.ID)
		}
	}

	// Invalidate makes a node see a change at once.
	third, err := a.Rotate(t.Context(), env, DefaultPublishAhead)
	if err != nil {
		t.Fatal(err)
	}
	b.Invalidate(env.ID)
	if got := kids(t, b, env.ID); !slices.Contains(got, third.ID) {
		t.Errorf("node b JWKS after Invalidate = %v, want %s in it", got, third.ID)
	}
}

func TestKeyringES256(t *testing.T) {
	db := newDB(t)
	env := newEnv(t, db, ES256, 0)
	r := &Keyring{Store: db, Box: newBox(t)}
	k := mustSigner(t, r, env)
	if k.Algorithm != ES256 {
		t.Fatalf("Signer algorithm = %s, want ES256", k.Algorithm)
	}
	raw, _ := r.JWKS(t.Context(), env.ID)
	if !bytes.Contains(raw, []byte(`"kty":"EC"`)) || !bytes.Contains(raw, []byte(`"crv":"P-256"`)) {
		t.Errorf("JWKS = %s, want an EC P-256 key", raw)
	}
	tok, _ := Sign(k, testClaims(time.Now()))
	set, _ := ParseJWKS(raw)
	if _, err := Verify(tok, set, time.Now(), testIssuer); err != nil {
		t.Errorf("Verify: %v", err)
	}

	// Changing the environment's algorithm takes effect at the next rotation.
	env.SigningAlgorithm = RS256
	if k := mustSigner(t, r, env); k.Algorithm != ES256 {
		t.Errorf("Signer before rotation = %s, want the existing ES256 key", k.Algorithm)
	}
	next, err := r.Rotate(t.Context(), env, 0)
	if err != nil {
		t.Fatal(err)
	}
	if next.Algorithm != RS256 {
		t.Errorf("rotated key algorithm = %s, want RS256", next.Algorithm)
	}
	if k := mustSigner(t, r, env); k.Algorithm != RS256 || k.ID != next.ID {
		t.Errorf("Signer after rotation = %s %s, want RS256 %s", k.Algorithm, k.ID, next.ID)
	}
}

func TestKeyringSealsPrivateKeys(t *testing.T) {
	db := newDB(t)
	env := newEnv(t, db, "", 0)
	box := newBox(t)
	r := &Keyring{Store: db, Box: box}
	k := mustSigner(t, r, env)
	other, err := r.Rotate(t.Context(), env, DefaultPublishAhead)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := db.ListSigningKeys(t.Context(), env.ID, time.Now())
	sk := list[0]
	if sk.ID != k.ID {
		t.Fatalf("first listed key is %s, want %s", sk.ID, k.ID)
	}

	der, _ := k.MarshalPrivate()
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if strings.Contains(sk.PrivateKey, enc.EncodeToString(der[:64])) {
			t.Fatalf("stored private key contains the raw DER")
		}
	}
	if _, err := ParsePrivate(sk.ID, sk.Algorithm, []byte(sk.PrivateKey)); err == nil {
		t.Fatal("stored private key parses without opening")
	}

	opened, err := box.Open(sk.PrivateKey, []byte("signing-key:"+sk.ID))
	if err != nil {
		t.Fatalf("Open with the right box: %v", err)
	}
	if !bytes.Equal(opened, der) {
		t.Error("opened private key differs from the key's MarshalPrivate")
	}
	if _, err := newBox(t).Open(sk.PrivateKey, []byte("signing-key:"+sk.ID)); !errors.Is(err, secretbox.ErrWrongKey) {
		t.Errorf("Open with another box = %v, want ErrWrongKey", err)
	}
	if _, err := box.Open(sk.PrivateKey, []byte("signing-key:"+other.ID)); !errors.Is(err, secretbox.ErrWrongKey) {
		t.Errorf("Open bound to another key's ID = %v, want ErrWrongKey", err)
	}

	wrong := &Keyring{Store: db, Box: newBox(t)}
	if _, err := wrong.Signer(t.Context(), env); !errors.Is(err, secretbox.ErrWrongKey) {
		t.Errorf("Signer with the wrong master key = %v, want ErrWrongKey", err)
	}
	if _, err := wrong.JWKS(t.Context(), env.ID); !errors.Is(err, secretbox.ErrWrongKey) {
		t.Errorf("JWKS with the wrong master key = %v, want ErrWrongKey", err)
	}
}

// countingKeys counts the store calls a Keyring makes.
type countingKeys struct {
	store.SigningKeys
	lists atomic.Int64
}

func (c *countingKeys) ListSigningKeys(ctx context.Context, envID string, now time.Time) ([]store.SigningKey, error) {
	c.lists.Add(1)
	return c.SigningKeys.ListSigningKeys(ctx, envID, now)
}

func TestKeyringCaches(t *testing.T) {
	db := newDB(t)
	env := newEnv(t, db, ES256, 0)
	keys := &countingKeys{SigningKeys: db}
	clk := newClock()
	r := &Keyring{Store: keys, Box: newBox(t), Now: clk.Now}

	// An environment without keys is never cached, and JWKS makes no key.
	for range 2 {
		raw, err := r.JWKS(t.Context(), env.ID)
		if err != nil || string(raw) != `{"keys":[]}` {
			t.Fatalf("JWKS of a new environment = %s, %v", raw, err)
		}
	}
	if n := keys.lists.Load(); n != 2 {
		t.Errorf("two JWKS calls on an empty environment listed keys %d times, want 2", n)
	}
	other := &Keyring{Store: db, Box: r.Box, Now: clk.Now}
	first := mustSigner(t, other, env)
	if got := kids(t, r, env.ID); !slices.Equal(got, []string{first.ID}) {
		t.Errorf("JWKS after another node's first key = %v, want %v", got, []string{first.ID})
	}

	keys.lists.Store(0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if _, err := r.Signer(context.Background(), env); err != nil {
					t.Error(err)
					return
				}
				if _, err := r.JWKS(context.Background(), env.ID); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := keys.lists.Load(); n != 0 {
		t.Errorf("1600 cached calls listed keys %d times, want 0", n)
	}
	clk.Advance(cacheTTL)
	for range 10 {
		mustSigner(t, r, env)
	}
	if n := keys.lists.Load(); n != 1 {
		t.Errorf("calls after the cache aged listed keys %d times, want 1", n)
	}
}

func TestKeyringMisconfigured(t *testing.T) {
	db := newDB(t)
	env := newEnv(t, db, "", 0)
	for name, r := range map[string]*Keyring{
		"no box":   {Store: db},
		"no store": {Box: newBox(t)},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := r.Signer(t.Context(), env); err == nil {
				t.Error("Signer succeeded")
			}
			if _, err := r.JWKS(t.Context(), env.ID); err == nil {
				t.Error("JWKS succeeded")
			}
		})
	}
	if _, err := (&Keyring{Store: db, Box: newBox(t)}).Signer(t.Context(), nil); err == nil {
		t.Error("Signer(nil) succeeded")
	}
}

func BenchmarkKeyringSigner(b *testing.B) {
	db := sqlitetest.New(b)
	now := store.Now()
	env := &store.Environment{ID: ids.New("environment"), Name: "b", Type: store.Development, ClientID: ids.New("client"), CreatedAt: now, UpdatedAt: now}
	if err := db.CreateEnvironment(b.Context(), env); err != nil {
		b.Fatal(err)
	}
	k, _ := secretbox.New(make([]byte, secretbox.KeySize))
	r := &Keyring{Store: db, Box: k}
	if _, err := r.Signer(b.Context(), env); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Signer(context.Background(), env); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
