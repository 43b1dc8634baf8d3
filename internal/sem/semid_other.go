//go:build linux && !amd64

package sem

import "golang.org/x/sys/unix"

// semidDS is the kernel's struct semid64_ds on 64-bit architectures other than x86-64
// (include/uapi/asm-generic/sembuf.h).
type semidDS struct {
	Perm  unix.SysvIpcPerm
	Otime int64
	Ctime int64
	Nsems uint64
	_, _  uint64
}
