//go:build linux

// Package keyparts takes System V IPC keys apart and puts them back together.
//
// ftok(3) packs three things into a 32-bit key:
//
//	bits 24-31  the low 8 bits of proj_id
//	bits 16-23  the low 8 bits of the file's device number (st_dev)
//	bits  0-15  the low 16 bits of the file's inode number (st_ino)
//
// This is the reference solution of exercises/01-ftok/keyparts.
package keyparts

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

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
	key, err := parseKey(s)
	if err != nil {
		return Parts{}, err
	}
	if key == 0 {
		return Parts{}, ErrPrivate
	}
	p := Parts{ProjID: uint8(key >> 24), Dev: uint8(key >> 16), Ino: uint16(key)}
	if p.ProjID == 0 {
		return Parts{}, fmt.Errorf("key %s: %w", s, ErrNoProjID)
	}
	return p, nil
}

// parseKey reads the 32 bits of a key: 0x (or 0X) and exactly 8 hex digits, as ipcs
// prints it, or a signed decimal key_t, as /proc/sysvipc/shm prints it.
func parseKey(s string) (uint32, error) {
	if len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X") {
		hex := s[2:]
		if len(hex) != 8 {
			return 0, fmt.Errorf("key %q: want 0x and 8 hex digits, as ipcs prints keys", s)
		}
		v, err := strconv.ParseUint(hex, 16, 32) // no sign, no spaces
		if err != nil {
			return 0, fmt.Errorf("key %q: not hexadecimal", s)
		}
		return uint32(v), nil
	}
	// key_t is a signed 32-bit int: keys with the top bit set are negative here.
	// ParseInt takes an optional sign and refuses spaces.
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("key %q: want 0x and 8 hex digits, or a decimal key_t", s)
	}
	return uint32(int32(v)), nil
}

// Encode packs p into a key and returns it as ipcs prints it: "0x" and 8 hex digits.
// It returns ErrNoProjID when p.ProjID is 0.
func Encode(p Parts) (string, error) {
	if p.ProjID == 0 {
		return "", ErrNoProjID
	}
	key := uint32(p.ProjID)<<24 | uint32(p.Dev)<<16 | uint32(p.Ino)
	return fmt.Sprintf("0x%08x", key), nil
}

// ForFile returns the parts of the key ftok(path, projID) would make: ftok by hand,
// with stat(2). Only the low 8 bits of projID count; ErrNoProjID if they are 0. The
// error of stat is returned as it is (errors.Is(err, fs.ErrNotExist) must work).
func ForFile(path string, projID int) (Parts, error) {
	if projID&0xff == 0 {
		return Parts{}, ErrNoProjID
	}
	// os.Stat follows symbolic links, as ftok's stat(2) does.
	info, err := os.Stat(path)
	if err != nil {
		return Parts{}, err
	}
	st := info.Sys().(*syscall.Stat_t)
	return Parts{ProjID: uint8(projID), Dev: uint8(st.Dev), Ino: uint16(st.Ino)}, nil
}
