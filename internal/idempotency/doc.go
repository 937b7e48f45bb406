// Package idempotency lets a client retry a request safely: the first
// request sent with an Idempotency-Key header runs, and its response is
// kept (sealed, since it may hold tokens) for TTL; a retry with the same
// key and the same request gets that response again instead of running a
// second time. A code exchange whose response was lost on the way back is
// the case that matters: run again, the code would already be used, the
// exchange refused and the session it started ended as if the code had
// been stolen. The WorkOS SDKs send the same key on every retry of a POST.
//
// A key is scoped to its endpoint (and, for authenticate, its client) and
// bound to a hash of the request, so a retry must repeat the request byte
// for byte (secrets and all) to be answered; the same key with another
// request is refused (ErrKeyReused).
// While the first request runs, a retry waits for its response, up to
// Service.Wait, then gets ErrInProgress. A claim not finished within
// staleAfter (a crashed node) is abandoned and the next retry runs the
// request again. Records live in the database, so a retry sent to
// another node is answered the same, and the sweeper deletes them once
// expired.
package idempotency
