//go:build linux

// Package perms creates IPC_PRIVATE segments with permissions written the way
// ipcs and ls show them.
//
// This is the reference solution of exercises/02-shmget/perms.
package perms

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ParseMode turns a permission string as ls prints it, such as "rw-r-----", into
// the permission bits shmget takes (0640). The string is exactly 9 characters: r,
// w and x in their places (owner, group, others), '-' where a permission is not
// granted.
func ParseMode(s string) (int, error) {
	const letters = "rwxrwxrwx"
	if len(s) != len(letters) {
		return 0, fmt.Errorf("permissions %q: want 9 characters such as rw-r-----", s)
	}
	mode := 0
	for i := 0; i < len(letters); i++ {
		mode <<= 1 // each character is one bit, owner's read (0400) first
		switch s[i] {
		case letters[i]:
			mode |= 1
		case '-':
		default:
			return 0, fmt.Errorf("permissions %q: character %d is %q, want %q or '-'", s, i+1, s[i], letters[i])
		}
	}
	return mode, nil
}

// CreatePrivate creates a new segment with key IPC_PRIVATE, size bytes and the
// permissions perm (as ParseMode reads them). It returns the segment's id and the
// number of memory pages the kernel allocates for it. Bad arguments are refused
// before anything is created.
func CreatePrivate(size int, perm string) (id int, pages int, err error) {
	if size <= 0 {
		return 0, 0, fmt.Errorf("size %d: a new segment needs at least 1 byte (shmget would say EINVAL)", size)
	}
	mode, err := ParseMode(perm)
	if err != nil {
		return 0, 0, err
	}
	// IPC_PRIVATE always makes a new segment; IPC_CREAT is not needed with it but
	// says what we mean. The low 9 bits of shmflg are the permissions.
	id, err = unix.SysvShmGet(unix.IPC_PRIVATE, size, unix.IPC_CREAT|mode)
	if err != nil {
		return 0, 0, fmt.Errorf("shmget(IPC_PRIVATE, %d, IPC_CREAT|%#o): %w", size, mode, err)
	}
	// The kernel counts whole pages: size rounded up.
	page := os.Getpagesize()
	return id, (size + page - 1) / page, nil
}
