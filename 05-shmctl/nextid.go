//go:build linux

package main

// kernel.shm_next_id, the one way to choose a segment's id, which CRIU
// (checkpoint/restore) uses to give restored segments their old ids. The lesson never
// writes the machine's own: a second process does it in an IPC namespace of its
// own, which disappears with it. See proc(5), namespaces(7), ipc_namespaces(7).

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

const shmNextID = "/proc/sys/kernel/shm_next_id"

// wantedID is the id the second process asks for: slot 7, sequence number 3.
var wantedID = 3<<idShift() + 7

// nextID reads the machine's shm_next_id, says who may write it, and has a second
// process in a private IPC namespace write it and get the id it asked for.
func (t *tourState) nextID() error {
	l := t.l
	l.Step("kernel.shm_next_id: asking for an id (in a private IPC namespace)")
	l.Call("cat %s", shmNextID)
	value, err := readNextID()
	if err != nil {
		l.Result("%v", err)
		l.Say("This kernel has no shm_next_id (it was built without CONFIG_CHECKPOINT_RESTORE):")
		l.Say("ids are always chosen as the step before showed.")
		return nil
	}
	l.Result("%d: nobody has asked for an id; shmget chooses as the step before showed", value)
	l.Say("CRIU saves a running process tree and restores it later, and restored segments must")
	l.Say("have their old ids: it writes the id wanted here, and the next shmget in that IPC")
	l.Say("namespace gets exactly that id, once; then the file reads -1 again.")
	may := unix.Faccessat(unix.AT_FDCWD, shmNextID, unix.W_OK, unix.AT_EACCESS)
	l.Call("faccessat(AT_FDCWD, %q, W_OK, AT_EACCESS)    /* may I write it? nothing is written */", shmNextID)
	if may == nil {
		l.Result("0: yes, with CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN (root). ls -l shows r--r--r--")
		l.Say("to everyone all the same: the kernel decides for each writer. This lesson never changes")
		l.Say("the machine's settings, which every program on it shares.")
	} else {
		l.Result("%s: no. Only a process with CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN", errText(may))
		l.Say("over the namespace may write it; to everyone else it is read-only.")
	}
	return t.nextIDInNamespace()
}

// nextIDInNamespace starts the second process in a new IPC namespace (and, without
// root, a new user namespace in which it is root and may write shm_next_id).
func (t *tourState) nextIDInNamespace() error {
	l := t.l
	cmd, err := reexec.Command(roleNextID, strconv.Itoa(wantedID))
	if err != nil {
		return err
	}
	how := "in a new IPC namespace: clone(CLONE_NEWIPC)"
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWIPC}
	if os.Geteuid() != 0 {
		how = "in a new user and IPC namespace, root inside and you outside: clone(CLONE_NEWUSER|CLONE_NEWIPC)"
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	}
	ours, err := os.Readlink("/proc/self/ns/ipc")
	if err != nil {
		return err
	}
	l.Call("a second process, %s;", how)
	l.Call("the lesson's IPC namespace is %s:", ours)
	c, err := startChild(l, cmd)
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EINVAL) {
		l.Result("%s: this machine does not let this process make namespaces (a container, or user", errText(err))
		l.Say("namespaces switched off), so the rest of this step is skipped. Where you may, try:")
		l.Look("unshare --ipc --map-root-user sh -c 'echo %d > %s; ipcmk -M 1; ipcs -m'", wantedID, shmNextID)
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.Finish(); err != nil {
		return fmt.Errorf("the process in the private IPC namespace (pid %d): %w", c.Pid, err)
	}
	l.Look("unshare --ipc --map-root-user sh -c 'echo %d > %s; ipcmk -M 1; ipcs -m'", wantedID, shmNextID)
	return t.didItsForkAttach(c.Pid)
}

// didItsForkAttach looks at our segment after the second process: did starting it
// count as an attach and a detach? A fork copies every attachment, as lesson 04
// shows: the kernel counts the copy as an attach by the forking process (nattch up,
// att_time), and the child's execve drops it, a detach by the child (det_time, lpid).
// Go usually starts a process with clone(CLONE_VM|CLONE_VFORK), which copies
// nothing; for a new user namespace it must really fork (syscall/exec_linux.go), so
// an ordinary user's run shows the copy and root's does not.
func (t *tourState) didItsForkAttach(child int) error {
	l := t.l
	ds, err := t.stat()
	if err != nil {
		return err
	}
	clock := func(sec int64) string { return time.Unix(sec, 0).Format("15:04:05") }
	switch int(ds.Lpid) {
	case child:
		t.forked = child
		l.Say("lpid is %d, the second process, though it never called shmat. To give it a user", child)
		l.Say("namespace, Go started it with a real fork (clone without CLONE_VM), and a fork copies")
		l.Say("every attachment (lesson 04): the kernel counted the copy as an attach by this process")
		l.Say("(nattch 2 for a moment, att_time now %s), and the child's execve dropped it:",
			clock(int64(ds.Atime)))
		l.Say("a detach by the child (det_time %s, lpid its pid). nattch is back to %d.",
			clock(int64(ds.Dtime)), ds.Nattch)
	case os.Getpid():
		l.Say("lpid is still %d, this process: the second process never touched our segment. Go", ds.Lpid)
		l.Say("started it with clone(CLONE_VM|CLONE_VFORK), which shares this process's memory until")
		l.Say("the execve instead of copying it. A real fork copies attachments (lesson 04); Go forks")
		l.Say("that way only to give the child a user namespace, as this step does for an ordinary")
		l.Say("user: run it as one, and lpid becomes the second process.")
	default:
		l.Say("lpid is %d, a process outside this lesson that attached or detached our segment.", ds.Lpid)
	}
	return nil
}

// nextIDRole is the second process of the shm_next_id step. It writes shm_next_id only in a new
// IPC namespace, one that holds no segment at all; the lesson's namespace always
// holds the lesson's segment while this runs (/proc/sysvipc/shm lists those of the
// reader's namespace), so it is never the machine's own. It touches only segments it
// makes there, and they go with the namespace when it exits, whatever happens.
func nextIDRole(l *lesson.Lesson, args []string) error {
	if len(args) != 1 {
		return lesson.Usagef("%s takes one argument, the id to ask for", roleNextID)
	}
	want, err := parseID(roleNextID+":", args[0])
	if err != nil {
		return err
	}
	mine, err := os.Readlink("/proc/self/ns/ipc")
	if err != nil {
		return err
	}
	if err := newNamespace(mine); err != nil {
		return err
	}
	fmt.Fprintf(l.Out, "in IPC namespace %s, uid %d here: no segments (ipcs -m lists none)\n", mine, os.Geteuid())

	first, err := makeAndRemove()
	if err != nil {
		return err
	}
	seq, index := splitID(first)
	fmt.Fprintf(l.Out, "shmget(IPC_PRIVATE, 1, IPC_CREAT|0600) -> id %d = %d × %d + %d: a new namespace starts at slot 0, seq 0\n", first, seq, 1<<idShift(), index)

	fmt.Fprintf(l.Out, "echo %d > %s\n", want, shmNextID)
	if err := os.WriteFile(shmNextID, []byte(strconv.Itoa(want)), 0); err != nil {
		return fmt.Errorf("writing %s: %w", shmNextID, err)
	}
	value, err := readNextID()
	if err != nil {
		return err
	}
	fmt.Fprintf(l.Out, "cat %s -> %d\n", shmNextID, value)
	got, err := makeAndRemove()
	if err != nil {
		return err
	}
	seq, index = splitID(got)
	fmt.Fprintf(l.Out, "shmget(IPC_PRIVATE, 1, IPC_CREAT|0600) -> id %d = %d × %d + %d: the id asked for\n", got, seq, 1<<idShift(), index)
	if got != want {
		return fmt.Errorf("shmget gave id %d after %d was written to %s", got, want, shmNextID)
	}
	if value, err = readNextID(); err != nil {
		return err
	}
	fmt.Fprintf(l.Out, "cat %s -> %d: used once, then forgotten\n", shmNextID, value)
	fmt.Fprintln(l.Out, "exiting: the namespace ends with me, and with it any segment still in it")
	return nil
}

// makeAndRemove makes a one-byte segment, removes it and returns its id.
func makeAndRemove() (int, error) {
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 1, unix.IPC_CREAT|0o600)
	if err != nil {
		return 0, lesson.Failed("shmget(IPC_PRIVATE, 1, IPC_CREAT|0600)", err, "")
	}
	if _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); err != nil {
		return 0, lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_RMID, NULL)", id), err, "")
	}
	return id, nil
}

// readNextID reads shm_next_id of this process's IPC namespace.
func readNextID() (int, error) {
	b, err := os.ReadFile(shmNextID)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// newNamespace returns an error unless this process's IPC namespace, called name,
// holds no segment: a new one, not the lesson's.
func newNamespace(name string) error {
	list, err := procsysv.ReadShm()
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return nil
	}
	s, whose := list[0], ""
	for _, o := range list {
		if o.CPID == os.Getppid() {
			s, whose = o, ", the lesson that started this process"
			break
		}
	}
	return fmt.Errorf("IPC namespace %s holds segment %d (created by pid %d%s): this process writes %s only in a new IPC namespace of its own", name, s.ID, s.CPID, whose, shmNextID)
}
