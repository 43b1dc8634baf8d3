//go:build linux

// Package readonly attaches segments read-only and turns a write through such an
// attachment into an error instead of a crash.
//
// This is the reference solution of exercises/03-shmat/readonly.
package readonly

import (
	"errors"
	"fmt"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// ErrReadOnly: the write faulted because the memory is mapped read-only.
var ErrReadOnly = errors.New("write to read-only shared memory")

// AttachReadOnly attaches segment id with SHM_RDONLY and returns its bytes.
func AttachReadOnly(id int) ([]byte, error) {
	b, err := unix.SysvShmAttach(id, 0, unix.SHM_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("shmat(%d, NULL, SHM_RDONLY): %w", id, err)
	}
	return b, nil
}

// TryWrite copies data into b at offset off. If the memory is read-only, the write
// faults: TryWrite returns an error wrapping ErrReadOnly instead of letting the
// fault kill the program. An off and data that do not fit in b are an error too,
// never a panic. TryWrite leaves the goroutine's fault setting as it found it.
func TryWrite(b []byte, off int, data []byte) (err error) {
	// Check the range first: an index out of range is a bug of the caller, not a
	// fault, and must not be reported as one.
	if off < 0 || off > len(b) || len(data) > len(b)-off {
		return fmt.Errorf("%d bytes at offset %d do not fit in %d bytes", len(data), off, len(b))
	}
	// Without this, the runtime treats a fault at a non-nil address as fatal and
	// the program dies ("unexpected fault address"). With it, the fault is a
	// panic this goroutine can recover. Restore the old setting on the way out.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		// A memory fault panics with a runtime.Error that has an Addr method.
		if fault, ok := r.(interface{ Addr() uintptr }); ok {
			err = fmt.Errorf("writing at %#x: %w", fault.Addr(), ErrReadOnly)
			return
		}
		panic(r) // not ours to hide
	}()
	copy(b[off:], data)
	return nil
}
