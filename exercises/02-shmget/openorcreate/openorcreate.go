//go:build linux

// Package openorcreate gets the segment for a key, creating it if it does not
// exist yet, and says which of the two happened. Write Open and OpenExisting;
// README.md says what each must do.
package openorcreate

import (
	"errors"

	"github.com/learn-sysv/shm-course/internal/ftok"
)

// ErrTooSmall: a segment exists for the key but is smaller than the size asked for.
var ErrTooSmall = errors.New("the existing segment is smaller than the size asked for")

// Segment is the segment Open or OpenExisting found or made.
type Segment struct {
	ID      int  // the shmid, for shmat and shmctl
	Created bool // true if this call created it (and so must initialise it)
}

// Open returns the segment for key. If there is none, it creates one of size bytes
// with the permission bits perm (0600, 0640, ...) and reports Created. If there is
// one, it opens it; an existing segment smaller than size is refused with an error
// that wraps both ErrTooSmall and unix.EINVAL. size must be positive and perm may
// hold only permission bits (0 to 0777).
func Open(key ftok.Key, size int, perm int) (Segment, error) {
	return Segment{}, errors.New("TODO: implement Open (read README.md, then HINTS.md)")
}

// OpenExisting returns the segment for key if it exists and never creates one. When
// there is none, the error wraps unix.ENOENT (so errors.Is(err, fs.ErrNotExist)).
func OpenExisting(key ftok.Key) (Segment, error) {
	return Segment{}, errors.New("TODO: implement OpenExisting (read README.md, then HINTS.md)")
}
