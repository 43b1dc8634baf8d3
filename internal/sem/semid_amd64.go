//go:build linux && amd64

package sem

import "golang.org/x/sys/unix"

// semidDS is the kernel's struct semid64_ds on x86-64
// (arch/x86/include/uapi/asm/sembuf.h), which has padding after each time.
type semidDS struct {
	Perm  unix.SysvIpcPerm
	Otime int64
	_     uint64
	Ctime int64
	_     uint64
	Nsems uint64
	_, _  uint64
}
