//go:build linux

package ftok

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Key is a System V IPC key, C's key_t: a 32-bit signed integer.
type Key int32

// Private is IPC_PRIVATE (0): passed to shmget or semget it means "always create a
// new object", never "an object other processes cannot reach".
const Private Key = 0

// String formats the key as ipcs(1) prints it: 0x followed by eight hex digits.
func (k Key) String() string { return fmt.Sprintf("0x%08x", uint32(k)) }

// ProjID is the key's top byte: the low 8 bits of the proj_id given to ftok.
func (k Key) ProjID() uint8 { return uint8(uint32(k) >> 24) }

// Dev is the key's second byte: the low 8 bits of the file's device number.
func (k Key) Dev() uint8 { return uint8(uint32(k) >> 16) }

// Ino is the key's low 16 bits: the low 16 bits of the file's inode number.
func (k Key) Ino() uint16 { return uint16(uint32(k)) }

// ErrZeroProjID is returned for a proj_id whose low 8 bits are zero. ftok(3) says the
// id must be nonzero; glibc does not check, but a zero byte would make the key depend
// on the file alone, so this package refuses it.
var ErrZeroProjID = errors.New("proj_id must be nonzero: ftok uses only its low 8 bits, and ftok(3) requires them not to be 0 (try 'A' or 1)")

// Ftok returns the key for the file at path and the project id projID, as glibc's
// ftok(path, projID) would. Only the low 8 bits of projID count: 0x141 gives the
// same key as 0x41. The error from stat(2) is returned as it is (an *fs.PathError
// wrapping ENOENT, EACCES, ...), so errors.Is(err, fs.ErrNotExist) works.
func Ftok(path string, projID int) (Key, error) {
	if projID&0xff == 0 {
		return 0, ErrZeroProjID
	}
	ino, dev, err := inodeAndDevice(path)
	if err != nil {
		return 0, err
	}
	return Make(ino, dev, projID), nil
}

// Make builds a key from an inode number, a device number and a project id with
// ftok's formula. Ftok is stat(2) followed by Make.
func Make(ino, dev uint64, projID int) Key {
	return Key(int32(uint32(ino&0xffff) | uint32(dev&0xff)<<16 | uint32(projID&0xff)<<24))
}

// inodeAndDevice stats path (following symbolic links, as ftok does) and returns the
// file's inode and device numbers.
func inodeAndDevice(path string) (ino, dev uint64, err error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	st := info.Sys().(*syscall.Stat_t)
	return uint64(st.Ino), uint64(st.Dev), nil // their widths differ between architectures
}
