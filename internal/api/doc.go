// Package api is the JSON API at the host root, wire-compatible with the
// WorkOS User Management API (see shared/reference/workos-compat.md) so the
// official WorkOS SDKs work against Gatehouse by changing their API host.
//
// Routes (all need Authorization: Bearer sk_…, scoped to the key's environment):
//
//	POST   /user_management/users                         create a user (201)
//	GET    /user_management/users                         list users (email, limit, before, after, order)
//	GET    /user_management/users/{id}                    get a user
//	GET    /user_management/users/external_id/{external_id}  get a user by external ID
//	PUT    /user_management/users/{id}                    update a user
//	DELETE /user_management/users/{id}                    delete a user
//
// Every response is JSON with an X-Request-ID header; errors use the shapes
// of workos-compat.md §5.3. Request bodies are JSON only (a browser form
// cannot post here), limited in size, and unknown fields are ignored.
package api
