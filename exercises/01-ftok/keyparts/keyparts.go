//go:build linux

// Package keyparts takes System V IPC keys apart and puts them back together.
//
// ftok(3) packs three things into a 32-bit key:
//
//	bits 24-31  the low 8 bits of proj_id
//	bits 16-23  the low 8 bits of the file's device number (st_dev)
//	bits  0-15  the low 16 bits of the file's inode number (st_ino)
//
// Write Decode, Encode and ForFile. README.md says what each must do.
package keyparts

import "errors"

// Parts are the three pieces ftok packs into a key.
type Parts struct {
	ProjID uint8  // the low 8 bits of proj_id
	Dev    uint8  // the low 8 bits of the file's device number
	Ino    uint16 // the low 16 bits of the file's inode number
}

var (
	// ErrPrivate: the key is 0, IPC_PRIVATE, which ftok never returns.
	ErrPrivate = errors.New("key 0 is IPC_PRIVATE, not a key made by ftok")
	// ErrNoProjID: the proj_id byte is 0; ftok(3) requires a nonzero proj_id.
	ErrNoProjID = errors.New("the low 8 bits of proj_id are 0; ftok(3) requires them to be nonzero")
)

// Decode splits a key into its parts. s is a key as ipcs prints it ("0x41011234")
// or as /proc/sysvipc/shm prints it (signed decimal, "1090589236").
// It returns ErrPrivate for key 0 and ErrNoProjID when the proj_id byte is 0.
func Decode(s string) (Parts, error) {
	return Parts{}, errors.New("TODO: implement Decode (read README.md, then HINTS.md)")
}

// Encode packs p into a key and returns it as ipcs prints it: "0x" and 8 hex digits.
// It returns ErrNoProjID when p.ProjID is 0.
func Encode(p Parts) (string, error) {
	return "", errors.New("TODO: implement Encode (read README.md, then HINTS.md)")
}

// ForFile returns the parts of the key ftok(path, projID) would make: ftok by hand,
// with stat(2). Only the low 8 bits of projID count; ErrNoProjID if they are 0. The
// error of stat is returned as it is (errors.Is(err, fs.ErrNotExist) must work).
func ForFile(path string, projID int) (Parts, error) {
	return Parts{}, errors.New("TODO: implement ForFile (read README.md, then HINTS.md)")
}
