// Package storecache keeps what nearly every API call reads and an operator
// rarely changes — environments, API keys and redirect URIs — in process
// memory for a few seconds, in front of a store.Store.
//
// A change made through the wrapped store (the dashboard on this node)
// clears the cache at once, and a read that loaded the old value while the
// change was being written does not cache it; a change made elsewhere
// (another node, the admin CLI) is seen within the TTL. Revoking an API key
// or removing a redirect URI therefore takes effect on every node within
// the TTL (2 s by default, GATEHOUSE_CACHE_TTL). Misses and
// errors are never cached, so unknown keys and client IDs always reach the
// database, and guessing cannot fill memory.
package storecache
