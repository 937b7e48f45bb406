package gatehouse

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"strconv"
)

// Iterator walks a list page by page, following list_metadata.after until
// the API says there are no more pages. Use Next, Current and Err:
//
//	it := client.ListUsers(ctx, gatehouse.ListUsersParams{})
//	for it.Next(ctx) {
//		u := it.Current()
//		…
//	}
//	if err := it.Err(); err != nil { … }
//
// or range over All. An Iterator is not safe for concurrent use.
type Iterator[T any] struct {
	fetch func(ctx context.Context, after string) (page []T, next *string, err error)
	page  []T
	i     int
	cur   T
	after string
	more  bool
	err   error
}

func newIterator[T any](after string, fetch func(ctx context.Context, after string) ([]T, *string, error)) *Iterator[T] {
	return &Iterator[T]{fetch: fetch, after: after, more: true, i: -1}
}

// Next advances to the next item, fetching the next page when needed. It
// returns false at the end of the list or on an error (see Err).
func (it *Iterator[T]) Next(ctx context.Context) bool {
	for {
		if it.err != nil {
			return false
		}
		if it.i+1 < len(it.page) {
			it.i++
			it.cur = it.page[it.i]
			return true
		}
		if !it.more {
			return false
		}
		page, next, err := it.fetch(ctx, it.after)
		if err != nil {
			it.err = err
			return false
		}
		it.page, it.i = page, -1
		switch {
		case next == nil || *next == "":
			it.more = false
		case *next == it.after:
			it.err = fmt.Errorf("gatehouse: the list returned the same page cursor %q twice", *next)
			return false
		default:
			it.after = *next
		}
	}
}

// Current returns the item Next moved to.
func (it *Iterator[T]) Current() T { return it.cur }

// Err returns the error that stopped the iteration, or nil.
func (it *Iterator[T]) Err() error { return it.err }

// All returns the remaining items as a sequence for range. An error ends
// the sequence with a zero item and the error.
func (it *Iterator[T]) All(ctx context.Context) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for it.Next(ctx) {
			if !yield(it.cur, nil) {
				return
			}
		}
		if it.err != nil {
			var zero T
			yield(zero, it.err)
		}
	}
}

// listEnvelope is the API's list shape.
type listEnvelope[T any] struct {
	Data         []T `json:"data"`
	ListMetadata struct {
		Before *string `json:"before"`
		After  *string `json:"after"`
	} `json:"list_metadata"`
}

// list returns an iterator over a list endpoint.
func list[T any](c *Client, path string, p ListParams, filters url.Values) *Iterator[T] {
	return newIterator(p.After, func(ctx context.Context, after string) ([]T, *string, error) {
		q := url.Values{}
		for k, v := range filters {
			q[k] = v
		}
		if p.Limit > 0 {
			q.Set("limit", strconv.Itoa(p.Limit))
		}
		if p.Order != "" {
			q.Set("order", string(p.Order))
		}
		if after != "" {
			q.Set("after", after)
		}
		var env listEnvelope[T]
		if err := c.do(ctx, "GET", path, q, nil, &env); err != nil {
			return nil, nil, err
		}
		return env.Data, env.ListMetadata.After, nil
	})
}
