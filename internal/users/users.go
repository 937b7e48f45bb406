package users

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/opt"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Limits on user fields. Metadata limits follow WorkOS: up to 10 pairs, keys
// up to 40 characters, values up to 600.
const (
	MaxEmailLength      = 254 // RFC 5321 path limit
	MaxNameLength       = 255
	MaxExternalIDLength = 128
	MaxLocaleLength     = 35
	MaxMetadataPairs    = 10
	MaxMetadataKey      = 40
	MaxMetadataValue    = 600
)

// Service manages the users of environments.
type Service struct {
	Store  store.Users
	Hasher *password.Hasher
	Now    func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return store.Truncate(s.Now())
	}
	return store.Now()
}

// CreateInput is a new user. Either Password or PasswordHash (with
// PasswordHashType) may be set, not both.
type CreateInput struct {
	Email            string
	EmailVerified    bool
	Password         *string
	PasswordHash     *string
	PasswordHashType *string
	FirstName        *string
	LastName         *string
	Name             *string
	ExternalID       *string
	Metadata         map[string]string
	// Logged, if set, gives the activity-log event of the new user, which
	// is stored with the user in one transaction.
	Logged func(u *store.User) *store.Event
}

// UpdateInput changes a user. Unset fields are left alone; a null Value
// clears a nullable field; a nil Metadata value deletes that key.
type UpdateInput struct {
	Email            opt.Value[string]
	EmailVerified    opt.Value[bool]
	FirstName        opt.Value[string]
	LastName         opt.Value[string]
	Name             opt.Value[string]
	ExternalID       opt.Value[string]
	Locale           opt.Value[string]
	Password         opt.Value[string]
	PasswordHash     opt.Value[string]
	PasswordHashType opt.Value[string]
	Metadata         opt.Value[map[string]*string]
}

// validator collects field errors so a request learns every problem at once.
type validator struct{ fields []errs.FieldError }

func (v *validator) add(field, code, msg string) {
	v.fields = append(v.fields, errs.FieldError{Field: field, Code: code, Message: msg})
}

func (v *validator) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return errs.Validation(v.fields...)
}

// NormalizeEmail trims and lowercases an email and checks it is a plain
// addr-spec (no display name, no comments) with a dotted domain.
func NormalizeEmail(raw string) (string, error) {
	if !utf8.ValidString(raw) || strings.IndexByte(raw, 0) >= 0 {
		return "", errs.Validation(errs.FieldError{Field: "email", Code: "email_invalid", Message: "Enter a valid email address, like name@example.com."})
	}
	e := strings.ToLower(strings.TrimSpace(raw))
	bad := errs.Validation(errs.FieldError{Field: "email", Code: "email_invalid", Message: "Enter a valid email address, like name@example.com."})
	if e == "" {
		return "", errs.Validation(errs.FieldError{Field: "email", Code: "email_required", Message: "An email address is required."})
	}
	if len(e) > MaxEmailLength || !utf8.ValidString(e) {
		return "", bad
	}
	// net/mail takes any non-ASCII letter as part of an address (RFC 6532),
	// Unicode spaces and invisible format characters (zero-width spaces,
	// bidirectional overrides) too: refuse those, so that no two accounts
	// look alike and no address reads differently from what it is.
	if strings.IndexFunc(e, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
		return "", bad
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Name != "" || addr.Address != e {
		return "", bad
	}
	at := strings.LastIndexByte(e, '@')
	local, domain := e[:at], e[at+1:]
	if local == "" || len(local) > 64 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") || strings.ContainsAny(domain, "[]") {
		return "", bad
	}
	return e, nil
}

// checkText validates a free-text field: valid UTF-8, no control
// characters, at most max characters.
func (v *validator) text(field, s string, max int) {
	if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		v.add(field, "invalid_characters", fmt.Sprintf("%s contains characters that are not allowed.", field))
		return
	}
	if n := utf8.RuneCountInString(s); n > max {
		v.add(field, "too_long", fmt.Sprintf("%s must be at most %d characters.", field, max))
	}
}

func (v *validator) externalID(s string) {
	if s == "" {
		v.add("external_id", "invalid", "external_id must not be empty; send null to remove it.")
		return
	}
	v.text("external_id", s, MaxExternalIDLength)
}

func (v *validator) locale(s string) {
	if s == "" || len(s) > MaxLocaleLength || strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)))
	}) >= 0 {
		v.add("locale", "invalid", "locale must be a language tag such as en or en-US.")
	}
}

func (v *validator) metadata(m map[string]*string, existing map[string]string) map[string]string {
	out := map[string]string{}
	for k, val := range existing {
		out[k] = val
	}
	for k, val := range m {
		if k == "" || utf8.RuneCountInString(k) > MaxMetadataKey || !utf8.ValidString(k) || strings.IndexFunc(k, unicode.IsControl) >= 0 {
			v.add("metadata", "invalid_key", fmt.Sprintf("Metadata keys must be 1 to %d characters.", MaxMetadataKey))
			continue
		}
		if val == nil {
			delete(out, k)
			continue
		}
		if utf8.RuneCountInString(*val) > MaxMetadataValue || !utf8.ValidString(*val) || strings.IndexByte(*val, 0) >= 0 {
			v.add("metadata", "invalid_value", fmt.Sprintf("Metadata values must be at most %d characters.", MaxMetadataValue))
			continue
		}
		out[k] = *val
	}
	if len(out) > MaxMetadataPairs {
		v.add("metadata", "too_many_keys", fmt.Sprintf("Metadata holds at most %d keys.", MaxMetadataPairs))
	}
	return out
}

// CheckPassword applies the password policy and returns a validation error
// naming the password field, or nil.
func CheckPassword(pw string) error {
	var v validator
	v.password(pw)
	return v.err()
}

func (v *validator) password(pw string) {
	var pe *password.PolicyError
	if err := password.Check(pw); errors.As(err, &pe) {
		v.add("password", pe.Code, pe.Message)
	}
}

func (v *validator) imported(hash, typ *string) string {
	switch {
	case hash == nil && typ == nil:
		return ""
	case hash == nil || *hash == "":
		v.add("password_hash", "required", "password_hash is required with password_hash_type.")
	case typ == nil || *typ == "":
		v.add("password_hash_type", "required", "password_hash_type is required with password_hash (bcrypt or argon2).")
	default:
		h, err := password.ValidateImported(*typ, *hash)
		switch {
		case errors.Is(err, password.ErrUnsupportedHashType) && (*typ == "bcrypt" || *typ == "argon2"):
			v.add("password_hash", "unsupported_variant", "This "+*typ+" variant is not supported: use bcrypt $2a$/$2b$/$2y$, or argon2id/argon2i version 19 (v=19).")
		case errors.Is(err, password.ErrUnsupportedHashType):
			v.add("password_hash_type", "unsupported", "password_hash_type must be bcrypt or argon2.")
		case err != nil:
			v.add("password_hash", "invalid", "password_hash is not a valid "+*typ+" hash.")
		}
		return h
	}
	return ""
}

func trimPtr(p *string) *string {
	if p == nil {
		return nil
	}
	s := strings.TrimSpace(*p)
	return &s
}

// Create validates in and inserts a user.
func (s *Service) Create(ctx context.Context, envID string, in CreateInput) (*store.User, error) {
	var v validator
	email, err := NormalizeEmail(in.Email)
	if e, ok := errs.As(err); ok {
		v.fields = append(v.fields, e.Fields...)
	}
	in.FirstName, in.LastName, in.Name = trimPtr(in.FirstName), trimPtr(in.LastName), trimPtr(in.Name)
	for field, p := range map[string]*string{"first_name": in.FirstName, "last_name": in.LastName, "name": in.Name} {
		if p != nil {
			v.text(field, *p, MaxNameLength)
		}
	}
	if in.ExternalID != nil {
		v.externalID(*in.ExternalID)
	}
	meta := map[string]*string{}
	for k, val := range in.Metadata {
		meta[k] = &val
	}
	metadata := v.metadata(meta, nil)
	if in.Password != nil && (in.PasswordHash != nil || in.PasswordHashType != nil) {
		v.add("password", "conflict", "Send either password or password_hash, not both.")
	}
	if in.Password != nil {
		v.password(*in.Password)
	}
	hash := v.imported(in.PasswordHash, in.PasswordHashType)
	if err := v.err(); err != nil {
		return nil, err
	}
	if in.Password != nil {
		if hash, err = s.Hasher.Hash(ctx, *in.Password); err != nil {
			return nil, err
		}
	}
	now := s.now()
	u := &store.User{
		ID: ids.New("user"), EnvironmentID: envID, Email: email, EmailVerified: in.EmailVerified,
		FirstName: emptyNil(in.FirstName), LastName: emptyNil(in.LastName), Name: emptyNil(in.Name),
		ExternalID: in.ExternalID, Metadata: metadata, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	var logged []*store.Event
	if in.Logged != nil {
		logged = append(logged, in.Logged(u))
	}
	if err := s.Store.CreateUser(ctx, u, logged...); err != nil {
		return nil, s.conflict(ctx, envID, u, err)
	}
	return u, nil
}

// emptyNil stores an empty name as null.
func emptyNil(p *string) *string {
	if p == nil || *p == "" {
		return nil
	}
	return p
}

// conflict turns a store conflict into a message naming what is taken.
func (s *Service) conflict(ctx context.Context, envID string, u *store.User, err error) error {
	if !errors.Is(err, store.ErrConflict) {
		return err
	}
	if other, gerr := s.Store.GetUserByEmail(ctx, envID, u.Email); gerr == nil && other.ID != u.ID {
		return &errs.Error{Kind: errs.Conflict, Code: "user_already_exists", Message: "A user with this email already exists.", Err: err}
	}
	return &errs.Error{Kind: errs.Conflict, Code: "external_id_already_exists", Message: "A user with this external_id already exists.", Err: err}
}

// Get returns a user of envID.
func (s *Service) Get(ctx context.Context, envID, id string) (*store.User, error) {
	u, err := s.Store.GetUser(ctx, envID, id)
	return u, notFound(err, "User not found: '%s'.", id)
}

// GetByExternalID returns a user of envID by external ID.
func (s *Service) GetByExternalID(ctx context.Context, envID, ext string) (*store.User, error) {
	u, err := s.Store.GetUserByExternalID(ctx, envID, ext)
	return u, notFound(err, "User not found with external ID: '%s'.", ext)
}

func notFound(err error, format, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return &errs.Error{Kind: errs.NotFound, Code: "entity_not_found", Message: fmt.Sprintf(format, id), Err: err}
	}
	return err
}

// List returns one page of users. A filter email that is not a valid
// address matches nobody.
func (s *Service) List(ctx context.Context, envID, email string, p store.ListParams) (store.Page[store.User], error) {
	var f store.UserFilter
	if email != "" {
		norm, err := NormalizeEmail(email)
		if err != nil {
			return store.Page[store.User]{Data: []store.User{}}, nil
		}
		f.Email = norm
	}
	return s.Store.ListUsers(ctx, envID, f, p)
}

// Update applies in to a user atomically. A new password is hashed before
// the transaction starts, so the row is not locked during hashing.
func (s *Service) Update(ctx context.Context, envID, id string, in UpdateInput) (*store.User, error) {
	var v validator
	var email string
	if in.Email.Set {
		var err error
		if in.Email.Null {
			v.add("email", "email_required", "email cannot be null.")
		} else if email, err = NormalizeEmail(in.Email.V); err != nil {
			e, _ := errs.As(err)
			v.fields = append(v.fields, e.Fields...)
		}
	}
	if in.EmailVerified.Set && in.EmailVerified.Null {
		v.add("email_verified", "invalid", "email_verified cannot be null.")
	}
	names := map[string]*opt.Value[string]{"first_name": &in.FirstName, "last_name": &in.LastName, "name": &in.Name}
	for field, o := range names {
		if o.Set && !o.Null {
			o.V = strings.TrimSpace(o.V)
			v.text(field, o.V, MaxNameLength)
		}
	}
	if in.ExternalID.Set && !in.ExternalID.Null {
		v.externalID(in.ExternalID.V)
	}
	if in.Locale.Set && !in.Locale.Null {
		v.locale(in.Locale.V)
	}
	if in.Password.Set && (in.PasswordHash.Set || in.PasswordHashType.Set) {
		v.add("password", "conflict", "Send either password or password_hash, not both.")
	}
	if in.Password.Set {
		if in.Password.Null {
			v.add("password", "invalid", "password cannot be null.")
		} else {
			v.password(in.Password.V)
		}
	}
	var hash string
	if in.PasswordHash.Set || in.PasswordHashType.Set {
		hash = v.imported(ptrOf(in.PasswordHash), ptrOf(in.PasswordHashType))
	}
	if in.Metadata.Set && !in.Metadata.Null {
		v.metadata(in.Metadata.V, nil) // check keys and values now; the merge happens below
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if in.Password.Set {
		var err error
		if hash, err = s.Hasher.Hash(ctx, in.Password.V); err != nil {
			return nil, err
		}
	}
	var candidate *store.User
	u, err := s.Store.UpdateUser(ctx, envID, id, func(u *store.User) error {
		candidate = u
		if in.Email.Set && email != u.Email {
			u.Email = email
			u.EmailVerified = false
		}
		if in.EmailVerified.Set {
			u.EmailVerified = in.EmailVerified.V
		}
		set := func(dst **string, o opt.Value[string]) {
			if !o.Set {
				return
			}
			if o.Null || o.V == "" {
				*dst = nil
			} else {
				val := o.V
				*dst = &val
			}
		}
		set(&u.FirstName, in.FirstName)
		set(&u.LastName, in.LastName)
		set(&u.Name, in.Name)
		set(&u.ExternalID, in.ExternalID)
		set(&u.Locale, in.Locale)
		if hash != "" {
			u.PasswordHash = hash
		}
		if in.Metadata.Set {
			var mv validator
			if in.Metadata.Null {
				u.Metadata = map[string]string{}
			} else {
				u.Metadata = mv.metadata(in.Metadata.V, u.Metadata)
			}
			if err := mv.err(); err != nil {
				return err
			}
		}
		u.UpdatedAt = s.now()
		return nil
	})
	if err != nil {
		if candidate != nil {
			err = s.conflict(ctx, envID, candidate, err)
		}
		return nil, notFound(err, "User not found: '%s'.", id)
	}
	return u, nil
}

func ptrOf(o opt.Value[string]) *string {
	if !o.Set || o.Null {
		return nil
	}
	return &o.V
}

// Delete removes a user.
func (s *Service) Delete(ctx context.Context, envID, id string) error {
	return notFound(s.Store.DeleteUser(ctx, envID, id), "User not found: '%s'.", id)
}
