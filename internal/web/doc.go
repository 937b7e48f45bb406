// Package web is the HTTP plumbing the surfaces share: request IDs, the
// client's address behind trusted proxies (ClientIP), the
// error-returning handler adapter for JSON APIs, JSON decoding with size and
// type limits, and the mapping from error kinds to status codes.
package web
