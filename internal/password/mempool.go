package password

import (
	"slices"
	"sync"

	"github.com/gatehouse/gatehouse/internal/password/argon2"
)

// memPool keeps the argon2 block memory of finished computations for the
// next ones, one per slot: no 19 MiB allocation, zeroing and page faults
// per hash, and no garbage. A computation that ends while another waits
// for a slot leaves its blocks for that one to overwrite instead of
// clearing them (argon2's DeferWipe); get hands such a memory out first,
// and wipeHeld clears any that no computation took.
type memPool struct {
	mu     sync.Mutex
	free   []*argon2.Memory // those holding blocks last
	max    int
	maxKiB uint32 // a memory grown past this by a dearer hash is let go
}

// get returns a kept memory, one holding blocks if there is one, or a new
// one.
func (p *memPool) get() *argon2.Memory {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		m := p.free[n-1]
		p.free = p.free[:n-1]
		return m
	}
	return &argon2.Memory{DeferWipe: true}
}

// put keeps m for a later computation, unless the pool is full or m grew
// past maxKiB; a memory let go is cleared first.
func (p *memPool) put(m *argon2.Memory) {
	p.mu.Lock()
	keep := len(p.free) < p.max && p.fits(m)
	switch {
	case !keep:
	case m.Held():
		p.free = append(p.free, m)
	default:
		p.free = slices.Insert(p.free, 0, m)
	}
	p.mu.Unlock()
	if !keep {
		m.Wipe()
	}
}

// fits reports whether m is no bigger than the memories p keeps.
func (p *memPool) fits(m *argon2.Memory) bool { return m.Size() <= p.maxKiB }

// wipeHeld clears, on a hashing thread, the kept memories that hold a
// computation's blocks. The Hasher calls it when it has nothing to do:
// the computation a memory's blocks were left for did not come (its caller
// gave up waiting, or took another memory).
func (p *memPool) wipeHeld() {
	p.mu.Lock()
	var held []*argon2.Memory
	p.free = slices.DeleteFunc(p.free, func(m *argon2.Memory) bool {
		if m.Held() {
			held = append(held, m)
			return true
		}
		return false
	})
	p.mu.Unlock()
	if len(held) == 0 {
		return
	}
	lowPriority(func() {
		for _, m := range held {
			m.Wipe()
		}
	})
	for _, m := range held {
		p.put(m)
	}
}
