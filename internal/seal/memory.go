package seal

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// lockedFailures counts allocations whose pages could not be locked (a low
// RLIMIT_MEMLOCK); status reports it so operators can raise the limit.
var lockedFailures atomic.Int64

// lockedBytes is key material in memory that is never swapped out and is
// zeroed when freed. Go's collector may copy ordinary slices; these live in
// an mmap'd region outside the heap, so there is exactly one copy.
type lockedBytes struct {
	b []byte
}

func newLocked(n int) *lockedBytes {
	if n == 0 {
		return &lockedBytes{}
	}
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		// Out of address space is not a reason to refuse to unseal;
		// fall back to the heap and say so.
		lockedFailures.Add(1)
		return &lockedBytes{b: make([]byte, n)}
	}
	if unix.Mlock(b) != nil {
		lockedFailures.Add(1)
	}
	_ = unix.Madvise(b, unix.MADV_DONTDUMP)
	return &lockedBytes{b: b}
}

// lockedCopy moves src into locked memory and zeroes src.
func lockedCopy(src []byte) *lockedBytes {
	l := newLocked(len(src))
	copy(l.b, src)
	wipe(src)
	return l
}

func (l *lockedBytes) bytes() []byte { return l.b }

// destroy zeroes and releases the memory. Safe to call twice.
func (l *lockedBytes) destroy() {
	if l == nil || l.b == nil {
		return
	}
	wipe(l.b)
	if unix.Munmap(l.b) != nil {
		// It was a heap fallback; zeroed is the best we can do.
		_ = 0
	}
	l.b = nil
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
