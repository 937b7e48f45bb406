package argon2

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on amd64 and of the
// common arm64 configuration.
const hugePage = 2 << 20

// adviseHugePages asks the kernel to back the whole 2 MiB pages inside
// blocks with transparent huge pages. Argon2 reads blocks from all over
// its memory: 19 MiB is ~4,900 small pages, more than the TLB holds, so
// with 4 KiB pages many such reads also walk the page tables, while ten
// 2 MiB pages fit (measured: docs/perf-hashing.md, round 5). It is advice:
// where the kernel has transparent huge pages off, or cannot find the
// memory, nothing changes. Call it before the memory is first touched,
// as the kernel only backs new faults with huge pages.
func adviseHugePages(blocks []block) {
	if len(blocks) == 0 {
		return
	}
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&blocks[0])), uintptr(len(blocks))*unsafe.Sizeof(block{}))
	skip := (hugePage - uintptr(unsafe.Pointer(&mem[0]))%hugePage) % hugePage
	if skip >= uintptr(len(mem)) {
		return
	}
	whole := (uintptr(len(mem)) - skip) &^ (hugePage - 1)
	if whole == 0 {
		return
	}
	unix.Madvise(mem[skip:skip+whole], unix.MADV_HUGEPAGE)
}
