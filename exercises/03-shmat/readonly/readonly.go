//go:build linux

// Package readonly attaches segments read-only and turns a write through such an
// attachment into an error instead of a crash. Write AttachReadOnly and TryWrite;
// README.md says what each must do.
package readonly

import "errors"

// ErrReadOnly: the write faulted because the memory is mapped read-only.
var ErrReadOnly = errors.New("write to read-only shared memory")

// AttachReadOnly attaches segment id with SHM_RDONLY and returns its bytes.
func AttachReadOnly(id int) ([]byte, error) {
	return nil, errors.New("TODO: implement AttachReadOnly (read README.md, then HINTS.md)")
}

// TryWrite copies data into b at offset off. If the memory is read-only, the write
// faults: TryWrite returns an error wrapping ErrReadOnly instead of letting the
// fault kill the program. An off and data that do not fit in b are an error too,
// never a panic. TryWrite leaves the goroutine's fault setting as it found it.
func TryWrite(b []byte, off int, data []byte) error {
	return errors.New("TODO: implement TryWrite (read README.md, then HINTS.md)")
}
