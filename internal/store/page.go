package store

import "slices"

// MaxLimit is the largest page size a list returns.
const MaxLimit = 100

// DefaultLimit is the page size when none is asked for (the WorkOS default).
const DefaultLimit = 10

// Scan tells a backend how to read one page of an ID-ordered list: the
// comparison against the cursor ("" when there is no cursor, else "<" or
// ">"), the cursor itself, whether to read descending, and how many rows to
// read (one more than the page, to learn whether another page exists).
// Pass what was read to MakePage.
type Scan struct {
	Cmp    string
	Cursor string
	Desc   bool
	Limit  int
}

// Normalize fills in defaults and clamps the limit. It is idempotent.
func (p ListParams) Normalize() ListParams {
	if p.Limit <= 0 {
		p.Limit = DefaultLimit
	}
	if p.Limit > MaxLimit {
		p.Limit = MaxLimit
	}
	if p.Order != Asc {
		p.Order = Desc
	}
	if p.After != "" {
		p.Before = ""
	}
	return p
}

// Scan returns the read a backend must make for p.
func (p ListParams) Scan() Scan {
	p = p.Normalize()
	s := Scan{Desc: p.Order == Desc, Limit: p.Limit + 1}
	switch {
	case p.After != "":
		s.Cursor = p.After
		s.Cmp = ">"
		if s.Desc {
			s.Cmp = "<"
		}
	case p.Before != "":
		// Read backwards from the cursor, then flip the rows in MakePage.
		s.Cursor = p.Before
		s.Desc = !s.Desc
		s.Cmp = ">"
		if s.Desc {
			s.Cmp = "<"
		}
	}
	return s
}

// MakePage turns the rows read for p.Scan() into a page with its cursors.
func MakePage[T any](rows []T, id func(T) string, p ListParams) Page[T] {
	p = p.Normalize()
	more := len(rows) > p.Limit
	if more {
		rows = rows[:p.Limit]
	}
	var page Page[T]
	switch {
	case p.Before != "":
		slices.Reverse(rows)
		if more && len(rows) > 0 {
			page.Before = id(rows[0])
		}
		if len(rows) > 0 {
			page.After = id(rows[len(rows)-1])
		}
	default:
		if more {
			page.After = id(rows[len(rows)-1])
		}
		if p.After != "" && len(rows) > 0 {
			page.Before = id(rows[0])
		}
	}
	if rows == nil {
		rows = []T{}
	}
	page.Data = rows
	return page
}
