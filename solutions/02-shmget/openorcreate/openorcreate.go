//go:build linux

// Package openorcreate gets the segment for a key, creating it if it does not
// exist yet, and says which of the two happened.
//
// This is the reference solution of exercises/02-shmget/openorcreate.
package openorcreate

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
)

// ErrTooSmall: a segment exists for the key but is smaller than the size asked for.
var ErrTooSmall = errors.New("the existing segment is smaller than the size asked for")

// Segment is the segment Open or OpenExisting found or made.
type Segment struct {
	ID      int  // the shmid, for shmat and shmctl
	Created bool // true if this call created it (and so must initialise it)
}

// attempts bounds the create/open loop below. It only repeats when another process
// removes the segment between our two shmget calls, which is rare.
const attempts = 5

// Open returns the segment for key. If there is none, it creates one of size bytes
// with the permission bits perm (0600, 0640, ...) and reports Created. If there is
// one, it opens it; an existing segment smaller than size is refused with an error
// that wraps both ErrTooSmall and unix.EINVAL. size must be positive and perm may
// hold only permission bits (0 to 0777).
func Open(key ftok.Key, size int, perm int) (Segment, error) {
	if size <= 0 {
		return Segment{}, fmt.Errorf("size %d: a new segment needs at least 1 byte (shmget would say EINVAL)", size)
	}
	if perm&^0o777 != 0 {
		return Segment{}, fmt.Errorf("perm %#o: only the permission bits 0777 may be set", perm)
	}
	for i := 0; i < attempts; i++ {
		// IPC_CREAT|IPC_EXCL succeeds for exactly one process: the one that creates
		// the segment. Everyone else gets EEXIST. See shmget(2).
		id, err := unix.SysvShmGet(int(key), size, unix.IPC_CREAT|unix.IPC_EXCL|perm)
		if err == nil {
			return Segment{ID: id, Created: true}, nil
		}
		if !errors.Is(err, unix.EEXIST) {
			return Segment{}, fmt.Errorf("shmget(%v, %d, IPC_CREAT|IPC_EXCL|%#o): %w", key, size, perm, err)
		}
		// It exists: open it. Passing size makes the kernel check the existing
		// segment is at least that big (EINVAL otherwise).
		id, err = unix.SysvShmGet(int(key), size, 0)
		switch {
		case err == nil:
			return Segment{ID: id}, nil
		case errors.Is(err, unix.EINVAL):
			return Segment{}, fmt.Errorf("shmget(%v, %d, 0): %w: %w", key, size, ErrTooSmall, err)
		case errors.Is(err, unix.ENOENT):
			continue // removed between our two calls: try to create it again
		default:
			return Segment{}, fmt.Errorf("shmget(%v, %d, 0): %w", key, size, err)
		}
	}
	return Segment{}, fmt.Errorf("shmget(%v): the segment kept disappearing between create and open", key)
}

// OpenExisting returns the segment for key if it exists and never creates one. When
// there is none, the error wraps unix.ENOENT (so errors.Is(err, fs.ErrNotExist)).
func OpenExisting(key ftok.Key) (Segment, error) {
	// No IPC_CREAT: shmget only looks the key up. Size 0 accepts any size.
	id, err := unix.SysvShmGet(int(key), 0, 0)
	if err != nil {
		return Segment{}, fmt.Errorf("shmget(%v, 0, 0): %w", key, err)
	}
	return Segment{ID: id}, nil
}
