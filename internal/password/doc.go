// Package password hashes, verifies and vets user passwords.
//
// # Hashing
//
// New hashes use argon2id (RFC 9106), the winner of the Password Hashing
// Competition and the algorithm the OWASP Password Storage Cheat Sheet
// recommends first. It is memory-hard: every guess needs its own
// DefaultParams.Memory of RAM for the whole computation, so an attacker who
// steals the database cannot trade memory for speed on GPUs or ASICs the way
// they can against PBKDF2 or plain salted digests.
//
// DefaultParams are the OWASP baseline for argon2id: m=19456 KiB (19 MiB),
// t=2, p=1, a 16-byte random salt from crypto/rand and a 32-byte key. Hashes
// are stored as PHC strings, which carry their own parameters:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// salt and key in unpadded standard base64. The cost can therefore be raised
// later without a migration: Verify reports needsRehash for any hash not made
// with the Hasher's current parameters, and the caller stores a fresh hash
// made from the password it just verified.
//
// # Bounded concurrency
//
// Memory-hard hashing turns a login storm into a memory storm: a thousand
// simultaneous logins at 19 MiB each would need 19 GiB. A Hasher therefore
// admits at most a fixed number of computations at once and queues the
// rest; a waiting caller gives up when its context ends and gets ctx.Err().
// The default, DefaultConcurrency, is one fewer than GOMAXPROCS (at least
// one): more would only contend for CPU, and one processor is left for
// token requests and a database on the same host, whose latency a sign-in
// storm would otherwise set. On a 2-core node that is one computation,
// about 19 MiB, whatever the load. Verifying a hash whose parameters are dearer than the
// Hasher's own (an imported hash, say) occupies proportionally more slots,
// so the bound holds for those too.
//
// # Computing
//
// The hashes are computed by the subpackage argon2 (AVX2 on amd64; it
// falls back to golang.org/x/crypto/argon2 elsewhere, with the same
// results). The Hasher keeps the block memory of each slot once used and
// hands it to the next computation: no 19 MiB allocation, zeroing and page
// faults per hash, and no garbage. A computation clears the memory when
// done, unless another is waiting for its slot: that one overwrites it in
// its first pass, which saves a hash about 8 % under load (see memPool and
// argon2's Memory.DeferWipe for what is left meanwhile, and why it is
// safe).
//
// Each computation runs on a hashing thread: an OS thread locked to its
// goroutine whose nice value is 10 above the process's (Linux), so the
// kernel runs token requests ahead of hashes when they want the same CPU,
// and a sign-in storm gets the CPU time they leave over. A nice value
// counts only against threads of the same scheduling group. Under the
// kernel's autogroup (one group per session) or cgroups (one per systemd
// service), the hashes share a group with the requests, and the group as
// a whole competes with other groups: a PostgreSQL backend on the same
// host, a group of its own, can wait behind hashes for tens of
// milliseconds (docs/performance-history.md, sixteenth and twentieth
// sessions; hashing in a helper process of its own, tried there, cost
// 14 % of the peak and did not shorten the requests' tail). UseCgroup
// (GATEHOUSE_HASH_CGROUP) moves the hashing threads alone into a cgroup
// the operator made: one with cpu.idle=1 runs them only on CPU time no
// other group wants, which took that tail away at an unchanged peak, the
// sign-ins waiting instead (twenty-first session).
// Hashing threads are kept for the next computations
// and end after 30 s without work, taking their lowered priority with
// them. `gatehouse serve` adds a processor per hash slot to GOMAXPROCS,
// since a hash waiting for the CPU still holds its processor, and tells the
// Hasher so (SetOwnProcessors); without those processors (an embedding
// program, `gatehouse dev`, GOMAXPROCS set by the operator) the computation
// yields its processor every ~0.35 ms if another goroutine is waiting for
// one.
//
// # Verifying
//
// Verify accepts argon2id and argon2i PHC strings of version 19 (0x13) and
// bcrypt hashes ($2a$, $2b$, $2y$), so that users imported from other systems can sign in and be
// rehashed to argon2id on the way. Derived keys are compared in constant
// time with crypto/subtle. Encoded hashes are parsed strictly and their cost
// parameters are bounded before any memory is allocated, so a malformed or
// hostile hash yields ErrMalformedHash rather than a panic or an
// out-of-memory crash. Errors describe what is wrong with a hash but never
// quote its salt or key.
//
// bcrypt only uses the first 72 bytes of a password; that is inherent in
// the algorithm and one more reason to rehash such users on sign-in.
//
// To avoid revealing through response time whether an account exists, call
// DummyVerify when there is no user (or no password) to check against: it
// does the same work as a Verify against a hash of the Hasher's parameters.
// Users still on an older or imported hash take a different time until
// their first sign-in rehashes them.
//
// Passwords are hashed byte for byte as given; no Unicode normalisation is
// applied, so that hashes imported from other systems keep verifying.
//
// # Imported hashes
//
// ValidateImported vets a hash supplied through the Users API before it is
// stored. Besides checking the format it caps the cost parameters an
// outsider can choose (argon2 memory 256 MiB, 16 passes, 16 lanes; bcrypt
// cost 16), since each sign-in would otherwise let them make the server do
// arbitrarily much work.
//
// # Policy
//
// Check applies the password policy of NIST SP 800-63B: at least MinLength
// and at most MaxLength characters (Unicode code points), no composition
// rules, and a refusal of well-known common passwords, matched
// case-insensitively against an embedded list. Failures are *PolicyError
// values whose Code is stable for API clients and whose Message can be
// shown to the user.
package password
