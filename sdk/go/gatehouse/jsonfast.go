package gatehouse

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// decodeSessionJSON decodes a session payload. It is on every request's
// path, and encoding/json spends about twice as long on the payload (mostly
// scanning the ~1 KB access token, twice) as iron spends unsealing it, so
// the common shape is read by a small decoder instead. That decoder gives
// up on anything unusual (\u escapes, invalid UTF-8, a field of an
// unexpected type, a repeated key, a key that only differs in case from a
// known one, deep nesting) and encoding/json decodes the payload instead,
// so the result is always what encoding/json would give; FuzzSessionJSON
// checks that they agree.
func decodeSessionJSON(b []byte, out *sessionDataJSON) error {
	r := jreader{b: b}
	if r.sessionData(out) {
		return nil
	}
	*out = sessionDataJSON{}
	return json.Unmarshal(b, out)
}

// jreader reads JSON from b; every method returns false when the input is
// not what it handles.
type jreader struct {
	b []byte
	i int
}

func (r *jreader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte (0 at the end).
func (r *jreader) peek() byte {
	r.ws()
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

func (r *jreader) lit(s string) bool {
	if !bytes.HasPrefix(r.b[r.i:], []byte(s)) {
		return false
	}
	r.i += len(s)
	return true
}

// rawString reads a string and returns its content, still escaped, and
// whether it has escapes. It refuses control characters, \u escapes and
// invalid UTF-8.
func (r *jreader) rawString() (raw []byte, escaped, ok bool) {
	if r.peek() != '"' {
		return nil, false, false
	}
	r.i++
	start := r.i
	ascii := true
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			raw = r.b[start:r.i]
			r.i++
			if !ascii && !utf8.Valid(raw) {
				return nil, false, false
			}
			return raw, escaped, true
		case c == '\\':
			if r.i+1 >= len(r.b) || !strings.ContainsRune(`"\/bfnrt`, rune(r.b[r.i+1])) {
				return nil, false, false // \u escapes are left to encoding/json
			}
			escaped = true
			r.i += 2
		case c < 0x20:
			return nil, false, false
		default:
			if c >= utf8.RuneSelf {
				ascii = false
			}
			r.i++
		}
	}
	return nil, false, false
}

func unescape(raw []byte) string {
	var sb strings.Builder
	sb.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			sb.WriteByte(c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		default: // " \ /
			c = raw[i]
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

func (r *jreader) str() (string, bool) {
	raw, esc, ok := r.rawString()
	if !ok {
		return "", false
	}
	if esc {
		return unescape(raw), true
	}
	return string(raw), true
}

// null reads null if it is next.
func (r *jreader) null() bool {
	return r.peek() == 'n' && r.lit("null")
}

// strOrNull reads a string ("" for null).
func (r *jreader) strOrNull() (string, bool) {
	if r.null() {
		return "", true
	}
	return r.str()
}

// strPtr reads a string or null (nil).
func (r *jreader) strPtr() (*string, bool) {
	if r.null() {
		return nil, true
	}
	s, ok := r.str()
	return &s, ok
}

func (r *jreader) boolean() (bool, bool) {
	switch r.peek() {
	case 't':
		return true, r.lit("true")
	case 'f':
		return false, r.lit("false")
	case 'n':
		return false, r.lit("null")
	}
	return false, false
}

// object reads an object, calling field for each key with the reader at
// its value. Keys with escapes are refused.
func (r *jreader) object(field func(key []byte) bool) bool {
	if r.peek() != '{' {
		return false
	}
	r.i++
	if r.peek() == '}' {
		r.i++
		return true
	}
	for {
		key, esc, ok := r.rawString()
		if !ok || esc || r.peek() != ':' {
			return false
		}
		r.i++
		if !field(key) {
			return false
		}
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			r.i++
			return true
		default:
			return false
		}
	}
}

// skip reads and discards one value, validating it.
func (r *jreader) skip(depth int) bool {
	if depth > 32 {
		return false
	}
	switch c := r.peek(); {
	case c == '"':
		_, _, ok := r.rawString()
		return ok
	case c == '{':
		return r.object(func([]byte) bool { return r.skip(depth + 1) })
	case c == '[':
		r.i++
		if r.peek() == ']' {
			r.i++
			return true
		}
		for {
			if !r.skip(depth + 1) {
				return false
			}
			switch r.peek() {
			case ',':
				r.i++
			case ']':
				r.i++
				return true
			default:
				return false
			}
		}
	case c == 't':
		return r.lit("true")
	case c == 'f':
		return r.lit("false")
	case c == 'n':
		return r.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return r.number()
	}
	return false
}

// number reads a JSON number (RFC 8259 §6).
func (r *jreader) number() bool {
	digits := func() int {
		n := 0
		for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
			r.i++
			n++
		}
		return n
	}
	if r.b[r.i] == '-' {
		r.i++
	}
	if r.i < len(r.b) && r.b[r.i] == '0' {
		r.i++
	} else if digits() == 0 {
		return false
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if digits() == 0 {
			return false
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// known refuses an unknown key that encoding/json would match to one of
// names case-insensitively.
func known(key []byte, names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(string(key), n) {
			return true
		}
	}
	return false
}

// once refuses a repeated key (encoding/json merges repeated objects).
func once(seen *uint32, bit uint32) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

var sessionKeys = []string{"organizationId", "user", "accessToken", "refreshToken", "authenticationMethod", "impersonator"}

func (r *jreader) sessionData(out *sessionDataJSON) bool {
	var seen uint32
	ok := r.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "organizationId":
			out.OrganizationID, ok = r.strOrNull()
			return ok && once(&seen, 1)
		case "accessToken":
			out.AccessToken, ok = r.strOrNull()
			return ok && once(&seen, 2)
		case "refreshToken":
			out.RefreshToken, ok = r.strOrNull()
			return ok && once(&seen, 4)
		case "authenticationMethod":
			out.AuthenticationMethod, ok = r.strOrNull()
			return ok && once(&seen, 8)
		case "user":
			if !once(&seen, 16) {
				return false
			}
			if r.null() {
				return true
			}
			out.User = &sessionUserJSON{}
			return r.user(out.User)
		case "impersonator":
			if !once(&seen, 32) {
				return false
			}
			if r.null() {
				return true
			}
			out.Impersonator = &impersonatorJSON{}
			return r.impersonator(out.Impersonator)
		}
		return !known(key, sessionKeys...) && r.skip(1)
	})
	return ok && r.peek() == 0 && r.i == len(r.b)
}

var userKeys = []string{"object", "id", "email", "emailVerified", "name", "firstName", "profilePictureUrl", "lastName",
	"lastSignInAt", "locale", "createdAt", "updatedAt", "externalId", "metadata"}

func (r *jreader) user(u *sessionUserJSON) bool {
	var seen uint32
	return r.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "object":
			u.Object, ok = r.strOrNull()
			return ok && once(&seen, 1<<0)
		case "id":
			u.ID, ok = r.strOrNull()
			return ok && once(&seen, 1<<1)
		case "email":
			u.Email, ok = r.strOrNull()
			return ok && once(&seen, 1<<2)
		case "emailVerified":
			u.EmailVerified, ok = r.boolean()
			return ok && once(&seen, 1<<3)
		case "name":
			u.Name, ok = r.strPtr()
			return ok && once(&seen, 1<<4)
		case "firstName":
			u.FirstName, ok = r.strPtr()
			return ok && once(&seen, 1<<5)
		case "profilePictureUrl":
			u.ProfilePictureURL, ok = r.strPtr()
			return ok && once(&seen, 1<<6)
		case "lastName":
			u.LastName, ok = r.strPtr()
			return ok && once(&seen, 1<<7)
		case "lastSignInAt":
			u.LastSignInAt, ok = r.strPtr()
			return ok && once(&seen, 1<<8)
		case "locale":
			u.Locale, ok = r.strPtr()
			return ok && once(&seen, 1<<9)
		case "createdAt":
			u.CreatedAt, ok = r.strOrNull()
			return ok && once(&seen, 1<<10)
		case "updatedAt":
			u.UpdatedAt, ok = r.strOrNull()
			return ok && once(&seen, 1<<11)
		case "externalId":
			u.ExternalID, ok = r.strPtr()
			return ok && once(&seen, 1<<12)
		case "metadata":
			if !once(&seen, 1<<13) {
				return false
			}
			if r.null() {
				return true
			}
			m := map[string]string{}
			u.Metadata = m
			return r.object(func(key []byte) bool {
				k := string(key)
				if _, dup := m[k]; dup {
					return false
				}
				v, ok := r.str()
				m[k] = v
				return ok
			})
		}
		return !known(key, userKeys...) && r.skip(2)
	})
}

func (r *jreader) impersonator(im *impersonatorJSON) bool {
	var seen uint32
	return r.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "email":
			im.Email, ok = r.strOrNull()
			return ok && once(&seen, 1)
		case "reason":
			im.Reason, ok = r.strPtr()
			return ok && once(&seen, 2)
		}
		return !known(key, "email", "reason") && r.skip(2)
	})
}
