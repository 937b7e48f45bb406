// Package hostile is Gatehouse's hostile input suite (issue 7). It starts
// the real server (server.New behind an http.Server with the limits
// cmd/gatehouse/serve.go uses) on SQLite, and on PostgreSQL when
// GATEHOUSE_TEST_POSTGRES_URL is set, and throws at every route and form:
// oversized bodies and headers, malformed and deeply nested JSON, invalid
// UTF-8, NUL bytes, SQL metacharacters in every string field and path
// segment, values of the wrong type, CR/LF aimed at response headers,
// open-redirect tricks against redirect_uri, return_to and the dashboard's
// next, and look-alike emails. Requests go over raw TCP so that bytes a
// well-behaved client would refuse to send (NUL, CR/LF, invalid UTF-8 in
// the request line and headers) reach the server.
//
// Every case must get a clear 4xx (a JSON error body on the API), or the
// endpoint's documented safe answer (an OAuth error redirect to a
// registered URI, a restart at the app's sign-in endpoint), or a closed
// connection for what the HTTP layer refuses; never a 5xx, never a
// Location outside the registered URIs, never an injected header. Nothing
// may be stored: every table is counted before and after each case, and
// the users, environments, API keys, redirects and admins are checksummed.
// The server must still answer /healthz and sign Ada in at the end.
//
// slowclient_test.go builds cmd/gatehouse and runs `gatehouse serve` to
// check the real http.Server's header timeout against a client that sends
// its headers byte by byte, while other clients are still served.
package hostile
