//go:build linux

package main

// Appendix steps 3 and 4: memfd_create(2) makes a file of memory with no name in any
// directory. Another process gets it only as a descriptor: sent over a Unix socket
// (SCM_RIGHTS, unix(7)), or inherited. Seals (F_ADD_SEALS, fcntl(2)) make promises
// about it that the receiver can check.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

// The names the lesson gives its memfds; /proc/PID/fd and maps show them as
// "/memfd:NAME (deleted)".
const (
	memfdSent      = "05-shmctl"
	memfdInherited = "05-shmctl-inherited"
)

// newMemfd makes a memfd of altSize bytes and maps it. Nothing of it outlives the
// process: exit closes and unmaps.
func (a *altState) newMemfd(memfdName string, flags int) (fd int, mem []byte, err error) {
	l := a.l
	call := fmt.Sprintf("memfd_create(%q, %s)", memfdName, memfdFlags(flags))
	l.Call("%s", call)
	fd, err = unix.MemfdCreate(memfdName, flags)
	if err != nil {
		return -1, nil, lesson.Failed(call, err, "")
	}
	l.Result("fd %d: a file of memory, in no directory", fd)
	l.Call("ftruncate(%d, %d); mmap(NULL, %d, PROT_READ|PROT_WRITE, MAP_SHARED, %d, 0)", fd, altSize, altSize, fd)
	if err := unix.Ftruncate(fd, altSize); err != nil {
		return -1, nil, lesson.Failed("ftruncate", err, "")
	}
	if mem, err = mapShared(fd, altSize); err != nil {
		return -1, nil, lesson.Failed("mmap", err, "")
	}
	return fd, mem, nil
}

func memfdFlags(flags int) string {
	s := "MFD_CLOEXEC"
	if flags&unix.MFD_ALLOW_SEALING != 0 {
		s += "|MFD_ALLOW_SEALING"
	}
	return s
}

// memfdOverSocket makes a sealed memfd, listens on a Unix socket, and sends the
// descriptor to a child that connects; then it seals the memory against writes.
func (a *altState) memfdOverSocket() error {
	l := a.l
	l.Step("memfd_create, the descriptor sent over a Unix socket (SCM_RIGHTS)")
	fd, mem, err := a.newMemfd(memfdSent, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return err
	}
	l.Call("fcntl(%d, F_ADD_SEALS, F_SEAL_SHRINK|F_SEAL_GROW)", fd)
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW); err != nil {
		return lesson.Failed("fcntl(F_ADD_SEALS)", err, "")
	}
	l.Result("0: its size is fixed for good. Whoever maps it need not fear that it shrinks")
	l.Say("under the mapping (a read past the end of the file is SIGBUS), and F_GET_SEALS says so.")

	dir, err := lesson.MkdirTemp(l, "05-shmctl-socket-")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "socket")
	l.Call("socket(AF_UNIX, SOCK_STREAM, 0); bind(%q); listen", path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return err
	}
	defer ln.Close()
	err = exchange(l, mem, func() (*child, error) {
		return startRole(l, "it connects", roleAltMemfd, path)
	}, func(c *child) error { return sendFd(l, c, ln, fd) })
	if err != nil {
		return err
	}
	a.maps = append(a.maps, "/memfd:"+memfdSent+" ")
	return a.sealWrites(fd, mem)
}

// sendFd waits until the child has connected, accepts, and sends fd over the
// connection with SCM_RIGHTS: the kernel puts a copy of the descriptor into the
// receiver's table.
func sendFd(l *lesson.Lesson, c *child, ln *net.UnixListener, fd int) error {
	if _, err := c.Await("CONNECTED"); err != nil {
		return err
	}
	// The connection is queued already; the deadline only guards against a surprise.
	if err := ln.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	conn, err := ln.AcceptUnix()
	if err != nil {
		return err
	}
	defer conn.Close()
	l.Call("accept; sendmsg(conn, \"memfd\", SCM_RIGHTS { %d })", fd)
	if _, _, err := conn.WriteMsgUnix([]byte("memfd"), unix.UnixRights(fd), nil); err != nil {
		return err
	}
	return nil
}

// sealWrites shows F_SEAL_WRITE: refused while a writable shared mapping exists,
// accepted once it is gone; after it, no write reaches the memory, and a read-only
// mapping still may be made.
func (a *altState) sealWrites(fd int, mem []byte) error {
	l := a.l
	l.Say("A receiver that checks the contents before it uses them needs them not to change")
	l.Say("afterwards: F_SEAL_WRITE, and nobody can change the memory any more.")
	l.Call("fcntl(%d, F_ADD_SEALS, F_SEAL_WRITE)", fd)
	_, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_WRITE)
	if !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("F_SEAL_WRITE with a writable shared mapping: want EBUSY, got %s", errText(err))
	}
	l.Result("%s: this process still has it mapped for writing", errText(err))
	l.Call("munmap(%p, %d); fcntl(%d, F_ADD_SEALS, F_SEAL_WRITE)", &mem[0], altSize, fd)
	if err := unix.Munmap(mem); err != nil {
		return lesson.Failed("munmap", err, "")
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_WRITE); err != nil {
		return lesson.Failed("fcntl(F_ADD_SEALS, F_SEAL_WRITE)", err, "")
	}
	l.Result("0")
	l.Call("write(%d, \"x\", 1)", fd)
	_, err = unix.Write(fd, []byte("x"))
	l.Result("%s", errText(err))
	l.Call("mmap(NULL, %d, PROT_READ|PROT_WRITE, MAP_SHARED, %d, 0)", altSize, fd)
	if m, err := mapShared(fd, altSize); err == nil {
		_ = unix.Munmap(m)
		return errors.New("a writable mapping of a memfd sealed with F_SEAL_WRITE was allowed")
	} else {
		l.Result("%s", errText(err))
	}
	l.Call("mmap(NULL, %d, PROT_READ, MAP_SHARED, %d, 0)", altSize, fd)
	ro, err := unix.Mmap(fd, 0, altSize, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return lesson.Failed("mmap(PROT_READ)", err, "")
	}
	l.Result("%p: read %q, and so will everyone, unchanged", &ro[0], cString(ro[altHalf:2*altHalf]))
	l.Look("ls -l /proc/%d/fd; grep memfd /proc/%d/maps", os.Getpid(), os.Getpid())
	return nil
}

// altMemfd is the child of appendix step 3: it connects to the socket its argument
// names, checks that the process at the other end is its parent (SO_PEERCRED), and
// receives the descriptor, maps it and answers.
func altMemfd(l *lesson.Lesson, args []string) error {
	if len(args) != 1 {
		return lesson.Usagef("%s takes one argument, the path of a Unix socket", roleAltMemfd)
	}
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: args[0], Net: "unix"})
	if err != nil {
		return fmt.Errorf("connect(%s): %w", lesson.Quote(args[0]), err)
	}
	defer conn.Close()
	cred, err := peerCred(conn)
	if err != nil {
		return err
	}
	if int(cred.Pid) != os.Getppid() {
		return fmt.Errorf("the socket %s belongs to pid %d, not to the lesson that started me (pid %d): I take nothing from it", lesson.Quote(args[0]), cred.Pid, os.Getppid())
	}
	fmt.Fprintf(l.Out, "connect(%q); SO_PEERCRED: pid %d uid %d, the lesson that started me\n", args[0], cred.Pid, cred.Uid)
	l.Tell("CONNECTED")

	// The end of our input is the lesson's word to stop: if it comes before the
	// descriptor (the lesson is ending, on SIGTERM say), closing the connection ends
	// the wait, and we end quietly, as the lesson asked.
	stopped := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, l.In)
		close(stopped)
		conn.Close()
	}()
	fd, err := receiveFd(conn)
	if err != nil {
		select {
		case <-stopped:
			return nil
		default:
			return err
		}
	}
	defer unix.Close(fd)
	link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return err
	}
	if !strings.HasPrefix(link, "/memfd:"+memfdSent+" ") {
		return fmt.Errorf("the descriptor received is %s, not the lesson's memfd: I touch no other", link)
	}
	fmt.Fprintf(l.Out, "recvmsg: SCM_RIGHTS gave fd %d -> %s\n", fd, link)
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return lesson.Failed("fcntl(F_GET_SEALS)", err, "")
	}
	fmt.Fprintf(l.Out, "fcntl(%d, F_GET_SEALS) -> %#x (%s)\n", fd, seals, sealNames(seals))
	err = unix.Ftruncate(fd, 0)
	fmt.Fprintf(l.Out, "ftruncate(%d, 0): %s: the size is sealed\n", fd, errText(err))
	if err == nil {
		return errors.New("ftruncate of a memfd sealed with F_SEAL_SHRINK succeeded")
	}
	mem, err := mapShared(fd, altSize)
	if err != nil {
		return lesson.Failed("mmap", err, "")
	}
	answer(l, mem)
	return unix.Munmap(mem)
}

// peerCred is SO_PEERCRED of conn: the pid, uid and gid of the process at the other
// end when the connection was made (unix(7)).
func peerCred(conn *net.UnixConn) (*unix.Ucred, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	return cred, credErr
}

// receiveFd reads one message from conn and returns the one descriptor it carries.
func receiveFd(conn *net.UnixConn) (int, error) {
	buf := make([]byte, 16)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return -1, fmt.Errorf("recvmsg: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return -1, fmt.Errorf("recvmsg: no descriptor came (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("recvmsg: want one descriptor, got %d (%v)", len(fds), err)
	}
	return fds[0], nil
}

// sealNames spells the seals in s as fcntl(2) names them.
func sealNames(s int) string {
	var names []string
	for _, seal := range []struct {
		bit  int
		name string
	}{{unix.F_SEAL_SEAL, "F_SEAL_SEAL"}, {unix.F_SEAL_SHRINK, "F_SEAL_SHRINK"}, {unix.F_SEAL_GROW, "F_SEAL_GROW"},
		{unix.F_SEAL_WRITE, "F_SEAL_WRITE"}, {unix.F_SEAL_FUTURE_WRITE, "F_SEAL_FUTURE_WRITE"}} {
		if s&seal.bit != 0 {
			names = append(names, seal.name)
		}
	}
	if names == nil {
		return "none"
	}
	return strings.Join(names, "|")
}

// inherited gives a child a memfd as its descriptor 3: what a Go program does where
// a C program would share MAP_SHARED|MAP_ANONYMOUS memory with fork.
func (a *altState) inherited() error {
	l := a.l
	l.Step("MAP_SHARED|MAP_ANONYMOUS to a child: what Go does instead")
	l.Say("In C: mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1, 0), then")
	l.Say("fork(): the child has the same mapping. No name, no descriptor, nothing to clean up.")
	l.Say("Go cannot fork: the child of a Go program is a new program (exec), and exec drops")
	l.Say("every mapping (lessons 03 and 04). What exec keeps is open descriptors, so the Go")
	l.Say("way is a memfd the child inherits (os/exec's ExtraFiles puts it at descriptor 3).")
	fd, mem, err := a.newMemfd(memfdInherited, unix.MFD_CLOEXEC)
	if err != nil {
		return err
	}
	err = exchange(l, mem, func() (*child, error) {
		cmd, err := reexec.Command(roleAltInherit)
		if err != nil {
			return nil, err
		}
		// A duplicate for os.File to own and close, once the child has its copy.
		dup, err := unix.Dup(fd)
		if err != nil {
			return nil, err
		}
		f := os.NewFile(uintptr(dup), memfdInherited)
		defer f.Close()
		cmd.ExtraFiles = []*os.File{f} // the child's fd 3; os/exec clears close-on-exec on it
		l.Call("second process: %s %s, with the memfd as its fd 3", name, roleAltInherit)
		return startChild(l, cmd)
	}, nil)
	if err != nil {
		return err
	}
	l.Say("The memory goes when the last descriptor is closed and the last mapping unmapped;")
	l.Say("a crash closes and unmaps everything, so nothing can leak. Step 5 shows the C way.")
	a.maps = append(a.maps, "/memfd:"+memfdInherited)
	return nil
}

// altInherit is the child of appendix step 4: its descriptor 3 is the lesson's memfd.
func altInherit(l *lesson.Lesson, args []string) error {
	if len(args) != 0 {
		return lesson.Usagef("%s takes no arguments", roleAltInherit)
	}
	const fd = 3
	link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil || !strings.HasPrefix(link, "/memfd:"+memfdInherited+" ") {
		return fmt.Errorf("descriptor 3 is not the memfd the lesson passes (it is %q): I touch nothing", link)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Size != altSize {
		return fmt.Errorf("descriptor 3 is not the lesson's %d bytes: I touch nothing", altSize)
	}
	fmt.Fprintf(l.Out, "fd %d -> %s, inherited through exec\n", fd, link)
	mem, err := mapShared(fd, altSize)
	if err != nil {
		return lesson.Failed("mmap", err, "")
	}
	answer(l, mem)
	return unix.Munmap(mem)
}
