// Package opt holds Value, a JSON field that tells "absent" from "null" from
// a value, which PATCH-like updates (PUT /user_management/users/{id}) need:
// an absent field is left alone and a null one is cleared.
package opt

import (
	"bytes"
	"encoding/json"
)

// Value is an optional, nullable JSON field. Set is true when the key was
// present in the JSON object; Null is true when its value was null.
type Value[T any] struct {
	Set  bool
	Null bool
	V    T
}

// UnmarshalJSON records that the field was present and decodes it.
// encoding/json calls it only for keys present in the object, including
// for an explicit null.
func (o *Value[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// Of returns a Value holding v.
func Of[T any](v T) Value[T] { return Value[T]{Set: true, V: v} }

// Null returns a Value holding an explicit null.
func Null[T any]() Value[T] { return Value[T]{Set: true, Null: true} }
