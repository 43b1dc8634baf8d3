//go:build linux

// Package memfdring gives two processes the memory of 06-sync's ring without a
// System V key: the memory is an anonymous file (memfd_create), and the process that
// made it hands the file's descriptor to the other over a Unix socket (SCM_RIGHTS).
//
// This is the reference solution of exercises/06-sync/memfdring.
package memfdring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

var (
	// ErrNoDescriptor: the message did not carry exactly one file descriptor.
	ErrNoDescriptor = errors.New("the message did not carry exactly one file descriptor")
	// ErrNotSealed: the descriptor is not a memory file sealed against shrinking and
	// growing, so its size could change under the mapping.
	ErrNotSealed = errors.New("the file is not sealed against shrinking and growing")
)

// sizeSeals fix a memory file's size: nobody, this process included, can shrink or
// grow it any more, and F_SEAL_SEAL forbids changing the seals themselves.
const sizeSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW

// Create makes size bytes of shared memory that has no name in any namespace: an
// anonymous file from memfd_create(2) (name only shows in /proc/PID/fd), sized with
// ftruncate, sealed against shrinking and growing (and against new seals), and mapped
// shared. It returns the mapping and the file's descriptor, which is close-on-exec;
// the caller sends the descriptor with Send and then closes it.
func Create(name string, size int) (mem []byte, fd int, err error) {
	if size <= 0 {
		return nil, -1, fmt.Errorf("memfdring: size %d: need at least 1 byte", size)
	}
	// MFD_CLOEXEC: a child started later must not inherit the memory by accident.
	// MFD_ALLOW_SEALING: without it, the file refuses every seal (memfd_create(2)).
	f, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, -1, fmt.Errorf("memfd_create(%q): %w", name, err)
	}
	mem, err = sizeAndMap(f, size)
	if err != nil {
		unix.Close(f) // nothing maps it: closing frees the memory
		return nil, -1, err
	}
	return mem, f, nil
}

// sizeAndMap gives the empty memory file fd its size, fixes that size for good with
// seals, and maps it shared.
func sizeAndMap(fd, size int) ([]byte, error) {
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return nil, fmt.Errorf("ftruncate(%d): %w", size, err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, sizeSeals|unix.F_SEAL_SEAL); err != nil {
		return nil, fmt.Errorf("fcntl(F_ADD_SEALS): %w", err)
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap(%d bytes, MAP_SHARED): %w", size, err)
	}
	return mem, nil
}

// Send passes fd and the id of the ring's semaphore set to the process at the other
// end of conn, in one message: setID as 4 bytes of data (little-endian uint32), fd
// in an SCM_RIGHTS control message. fd stays open in this process.
func Send(conn *net.UnixConn, fd int, setID int) error {
	data := binary.LittleEndian.AppendUint32(nil, uint32(setID))
	// The kernel installs a new descriptor for the same open file in the receiver
	// (unix(7), SCM_RIGHTS): the receiver's number will usually differ from fd.
	n, _, err := conn.WriteMsgUnix(data, unix.UnixRights(fd), nil)
	if err != nil {
		return fmt.Errorf("sendmsg(SCM_RIGHTS): %w", err)
	}
	if n != len(data) {
		return fmt.Errorf("sendmsg: sent %d of %d bytes", n, len(data))
	}
	return nil
}

// maxDescriptors is how many descriptors Receive makes room for: more than the one
// it wants, so that it sees, and closes, what a confused peer sends.
const maxDescriptors = 8

// Receive takes one message that Send sent from conn and returns the memory, mapped
// shared, and the semaphore set's id. It refuses a message without exactly one
// descriptor (ErrNoDescriptor) and a file that is not sealed against shrinking and
// growing (ErrNotSealed). Whatever happens, it closes every descriptor it received:
// the mapping keeps the memory.
func Receive(conn *net.UnixConn) (mem []byte, setID int, err error) {
	data := make([]byte, 4)
	oob := make([]byte, unix.CmsgSpace(4*maxDescriptors))
	n, oobn, flags, _, err := conn.ReadMsgUnix(data, oob)
	fds := descriptors(oob[:oobn])
	defer func() {
		for _, fd := range fds {
			unix.Close(fd) // every one, whatever happens: the mapping is what we keep
		}
	}()
	switch {
	case err != nil:
		return nil, 0, fmt.Errorf("recvmsg: %w", err)
	case flags&unix.MSG_CTRUNC != 0:
		return nil, 0, fmt.Errorf("more descriptors than %d came (MSG_CTRUNC): %w", maxDescriptors, ErrNoDescriptor)
	case len(fds) != 1:
		return nil, 0, fmt.Errorf("%d descriptors: %w", len(fds), ErrNoDescriptor)
	case n != len(data):
		return nil, 0, fmt.Errorf("recvmsg: %d bytes of data, want %d (the semaphore set's id)", n, len(data))
	}
	fd := fds[0]
	// Sealed against shrinking, the file keeps at least the size we map: without the
	// seal the sender could cut it, and touching the lost pages would be a SIGBUS.
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("fcntl(F_GET_SEALS): %v: %w", err, ErrNotSealed)
	}
	if seals&sizeSeals != sizeSeals {
		return nil, 0, fmt.Errorf("seals %#x: %w", seals, ErrNotSealed)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, 0, fmt.Errorf("fstat: %w", err)
	}
	if st.Size <= 0 {
		return nil, 0, fmt.Errorf("the memory file is empty (%d bytes)", st.Size)
	}
	mem, err = unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, 0, fmt.Errorf("mmap(%d bytes, MAP_SHARED): %w", st.Size, err)
	}
	return mem, int(binary.LittleEndian.Uint32(data)), nil
}

// descriptors returns the descriptors in the SCM_RIGHTS control messages of oob.
func descriptors(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if got, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}
