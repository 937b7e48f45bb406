// Package web is the HTTP plumbing the surfaces share: request IDs, the
// error-returning handler adapter for JSON APIs, JSON decoding with size and
// type limits, and the mapping from error kinds to status codes.
package web
