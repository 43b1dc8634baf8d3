//go:build linux

// Command 04-shmdt detaches System V shared memory: shm_nattch drops and shm_dtime
// is set, exit and exec detach on their own, a segment outlives the process that
// made it, the slice given to SysvShmDetach must start at the attach address, and
// the slice must not be touched afterwards. Read README.md beside it; the Linux man
// page is shmop(2).
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
)

const name = "04-shmdt"

const usage = `
usage: go run ./04-shmdt [-step]
       go run ./04-shmdt [-step] ID

shmdt(2) unmaps a System V shared memory segment from the calling process
(Linux man page: shmop(2)). It never destroys the segment.

Without ID: attach and detach a segment, watching shm_nattch and shm_dtime;
show EINVAL for a resliced or empty slice; touch a slice after detaching (in
child processes: once recovered with debug.SetPanicOnFault, once fatal); show
that exit and exec detach; and let a child create a segment and exit, so that
it stays in ipcs with nattch 0 until this program removes it. Everything it
creates is removed, also on error and Ctrl-C.

With ID: attach that existing segment read-only and detach it again, showing
shm_nattch and shm_dtime before and after. (ipcs -m lists ids.)
`

func main() { lesson.Main(name, usage, run) }

func run(l *lesson.Lesson, args []string) error {
	// A second process is this program again, with its role as the first argument.
	if len(args) > 0 {
		if role, ok := roles[args[0]]; ok {
			return role(l, args[1:])
		}
	}
	if err := l.Parse(args); err != nil {
		return err
	}
	switch l.Flags.NArg() {
	case 0:
		return tour(l)
	case 1:
		id, err := parseID(l.Flags.Arg(0))
		if err != nil {
			return err
		}
		return attachAndDetach(l, id)
	default:
		return lesson.Usagef("too many arguments %q: give at most one segment id", l.Flags.Args())
	}
}

// tour is the lesson: each function below is one numbered step.
func tour(l *lesson.Lesson) error {
	id, err := create(l)
	if err != nil {
		return err
	}
	b, err := attachAndStat(l, id)
	if err != nil {
		return err
	}
	if err := detachAndStat(l, id, b); err != nil {
		return err
	}
	if err := wrongSlices(l, id); err != nil {
		return err
	}
	if err := touchAfterDetach(l, id); err != nil {
		return err
	}
	if err := exitDetaches(l, id); err != nil {
		return err
	}
	if err := execDetaches(l, id); err != nil {
		return err
	}
	left, err := createAndLeave(l)
	if err != nil {
		return err
	}
	return outlives(l, left)
}

// segmentSize is two pages, so that b[pageSize:] is page-aligned yet not the start.
var segmentSize = 2 * os.Getpagesize()

func create(l *lesson.Lesson) (int, error) {
	l.Step("Create a segment (lesson 02)")
	call := fmt.Sprintf("shmget(IPC_PRIVATE, %d, IPC_CREAT|IPC_EXCL|0600)", segmentSize)
	l.Call("%s", call)
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, segmentSize, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		return 0, lesson.Failed(call, err, "")
	}
	l.Cleanup(fmt.Sprintf("remove segment %d", id), func() error { return remove(id) })
	l.Result("id %d", id)
	if err := sayStat(l, id); err != nil {
		return 0, err
	}
	l.Say("shm_atime and shm_dtime are 0: never attached, never detached.")
	return id, nil
}

func attachAndStat(l *lesson.Lesson, id int) ([]byte, error) {
	l.Step("Attach it (lesson 03)")
	b, err := attach(l, id, 0)
	if err != nil {
		return nil, err
	}
	l.Result("mapped at %#x", addr(b))
	copy(b, "still here after detach")
	if err := sayStat(l, id); err != nil {
		return nil, err
	}
	l.Look("ipcs -m -i %d", id)
	return b, nil
}

func detachAndStat(l *lesson.Lesson, id int, b []byte) error {
	l.Step("Detach it: shmdt(addr)")
	if err := detach(l, b); err != nil {
		return err
	}
	l.Result("0 (success)")
	if err := sayStat(l, id); err != nil {
		return err
	}
	l.Say("shm_nattch dropped to 0 and shm_dtime is now; shm_lpid is the detaching process.")
	l.Say("The segment is still there, bytes and all: shmdt unmaps, it never destroys.")
	l.Say("Destroying is shmctl(IPC_RMID) (lesson 05) or ipcrm -m %d.", id)
	b, err := attach(l, id, unix.SHM_RDONLY)
	if err != nil {
		return err
	}
	l.Result("attached again at %#x: %q", addr(b), b[:23])
	return detach(l, b)
}

// wrongSlices shows which slices SysvShmDetach accepts: only one that starts at
// the attach address, because that address is all shmdt receives.
func wrongSlices(l *lesson.Lesson, id int) error {
	l.Step("Which slice to give SysvShmDetach")
	b, err := attach(l, id, 0)
	if err != nil {
		return err
	}
	l.Result("mapped at %#x, %d bytes", addr(b), len(b))
	l.Say("SysvShmDetach(b) calls shmdt(&b[0]): the address of the first byte, nothing else.")
	page := os.Getpagesize()
	for _, c := range []struct {
		expr  string
		slice []byte
		why   string
	}{
		{"b[10:]", b[10:], "not page-aligned"},
		{fmt.Sprintf("b[%d:]", page), b[page:], "page-aligned, but no attachment starts there"},
		{"b[:0]", b[:0], "empty: x/sys returns EINVAL itself, with no system call"},
	} {
		l.Call("SysvShmDetach(%s)    (address %s: %s)", c.expr, sliceAddr(c.slice), c.why)
		l.Result("%s", errText(unix.SysvShmDetach(c.slice)))
	}
	if err := sayStat(l, id); err != nil {
		return err
	}
	l.Call("SysvShmDetach(b[:10])    (address %#x: the start; the length is never passed)", addr(b))
	if err := unix.SysvShmDetach(b[:10]); err != nil {
		return lesson.Failed(fmt.Sprintf("shmdt(%#x)", addr(b)), err, "")
	}
	l.Result("0 (success): the whole attachment is gone")
	l.Call("SysvShmDetach(b)    (again)")
	l.Result("%s: nothing is attached at %#x any more", errText(unix.SysvShmDetach(b)), addr(b))
	l.Say("Detach once, with the slice SysvShmAttach returned, then forget it (b = nil).")
	l.Say("A second detach is worse than EINVAL if a new attachment has reused the address:")
	l.Say("it would detach that one.")
	return sayStat(l, id)
}

// touchAfterDetach runs two children that touch their slice after detaching it.
func touchAfterDetach(l *lesson.Lesson, id int) error {
	l.Step("Touch the slice after detaching it")
	l.Say("The slice still holds the old address, but the mapping behind it is gone. Done in")
	l.Say("child processes, because in a busy process that range may already be reused.")
	p, err := startRole(l, nil, roleTouchRecovering, strconv.Itoa(id))
	if err != nil {
		return err
	}
	if err := p.Finish(); err != nil {
		return fmt.Errorf("the child that recovers: %w", err)
	}
	var stderr strings.Builder
	p, err = startRole(l, &stderr, roleTouchFatal, strconv.Itoa(id))
	if err != nil {
		return err
	}
	err = p.Finish()
	var exit *lesson.ExitError
	if !errors.As(err, &exit) || exit.Status != 2 {
		return fmt.Errorf("the child without SetPanicOnFault should die with exit status 2, got %v", err)
	}
	l.Result("the second child died: exit status %d. The first lines of its stderr:", exit.Status)
	for _, line := range firstLines(stderr.String(), 3) {
		l.Say("| %s", line)
	}
	l.Say("code=0x1 is SEGV_MAPERR: no mapping at that address at all (a read-only")
	l.Say("attachment gives code=0x2, SEGV_ACCERR, lesson 03). If something else had been")
	l.Say("mapped there since, there would be no fault: the read would return other data,")
	l.Say("a write would corrupt it. So after SysvShmDetach(b), set b = nil.")
	return nil
}

// exitDetaches shows a child that attaches and exits without calling shmdt.
func exitDetaches(l *lesson.Lesson, id int) error {
	l.Step("Exit detaches: a child attaches and exits without shmdt")
	p, err := startRole(l, nil, roleAttachAndExit, strconv.Itoa(id))
	if err != nil {
		return err
	}
	if _, err := p.Until("waiting"); err != nil {
		return err
	}
	if err := sayStat(l, id); err != nil {
		return err
	}
	if err := p.Finish(); err != nil {
		return fmt.Errorf("the child (pid %d): %w", p.Pid, err)
	}
	l.Result("child %d has exited", p.Pid)
	if err := sayStat(l, id); err != nil {
		return err
	}
	l.Say("The kernel detached it at exit, as if by shmdt: nattch 0, dtime now, lpid the child.")
	l.Say("The same happens when a process is killed, even by SIGKILL.")
	return nil
}

// execDetaches shows that exec detaches: the same process, a new program, no attachment.
func execDetaches(l *lesson.Lesson, id int) error {
	l.Step("Exec detaches: the same process runs a new program")
	p, err := startRole(l, nil, roleAttachAndExec, strconv.Itoa(id))
	if err != nil {
		return err
	}
	if _, err := p.Until("waiting"); err != nil {
		return err
	}
	if err := sayStat(l, id); err != nil {
		return err
	}
	if err := p.Send("exec"); err != nil {
		return err
	}
	line, err := p.Until("after exec")
	if err != nil {
		return err
	}
	if !strings.Contains(line, fmt.Sprintf("pid %d", p.Pid)) {
		return fmt.Errorf("the child's pid changed across exec: %q", line)
	}
	if err := sayStat(l, id); err != nil {
		return err
	}
	l.Say("Process %d is still running, but execve(2) replaced its address space, and the", p.Pid)
	l.Say("attachment with it. (After fork(2) a C child inherits attachments; Go never")
	l.Say("forks without exec, which is why lesson 03's child attached by id.)")
	if err := p.Finish(); err != nil {
		return fmt.Errorf("the child (pid %d): %w", p.Pid, err)
	}
	return nil
}

// createAndLeave lets a child create a segment and exit without detaching or
// removing it, and returns the segment's id.
func createAndLeave(l *lesson.Lesson) (int, error) {
	l.Step("A child creates a segment and exits")
	p, err := startRole(l, nil, roleCreateAndLeave)
	if err != nil {
		return 0, err
	}
	line, err := p.Until("created segment")
	if err != nil {
		return 0, err
	}
	id, err := strconv.Atoi(line[strings.LastIndex(line, " ")+1:])
	if err != nil {
		return 0, fmt.Errorf("no segment id in the child's line %q", line)
	}
	// Ours to remove from now on, whatever happens; then the child may go.
	l.Cleanup(fmt.Sprintf("remove segment %d", id), func() error { return removeIfThere(id) })
	if err := p.Send("go"); err != nil {
		return 0, err
	}
	if err := p.Finish(); err != nil {
		return 0, fmt.Errorf("the child (pid %d): %w", p.Pid, err)
	}
	l.Result("child %d has exited without shmdt or IPC_RMID", p.Pid)
	l.Look("ipcs -m -p    (with -step, look now: segment %d, nattch 0, its cpid gone)", id)
	return id, nil
}

// outlives finds the segment the child left, reads it and removes it.
func outlives(l *lesson.Lesson, id int) error {
	l.Step("The segment outlives the process that made it")
	s, ok, err := procsysv.FindShm(id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("segment %d is gone: someone removed it (ipcrm?), or the kernel did because /proc/sys/kernel/shm_rmid_forced is 1", id)
	}
	l.Result("/proc/sysvipc/shm: id %d, size %d, cpid %d, lpid %d, nattch %d", s.ID, s.Size, s.CPID, s.LPID, s.Nattch)
	l.Say("Its creator (cpid %d) is gone, nothing is attached, and it stays: until someone", s.CPID)
	l.Say("removes it, the machine reboots or its IPC namespace ends (a container stops).")
	l.Say("With IPC_PRIVATE there is no key to find it by: only its id, which ipcs -m lists.")
	l.Look("ipcs -m -i %d    (or: ipcs -m -p, which shows cpid and lpid)", id)
	b, err := attach(l, id, unix.SHM_RDONLY)
	if err != nil {
		return err
	}
	l.Result("the bytes outlived their writer too: %q", strings.TrimRight(string(b[:64]), "\x00"))
	if err := detach(l, b); err != nil {
		return err
	}

	l.Call("shmctl(%d, IPC_RMID, NULL)    (what ipcrm -m %d does)", id, id)
	if err := remove(id); err != nil {
		return lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_RMID, NULL)", id), err, "")
	}
	_, ok, err = procsysv.FindShm(id)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("segment %d is still listed after IPC_RMID", id)
	}
	l.Result("segment %d is gone from /proc/sysvipc/shm", id)
	l.Say("From a shell: ipcrm -m ID removes by id, ipcrm -M KEY by key. Remove only")
	l.Say("segments you know are yours; another program may be about to attach one.")
	return nil
}

// attachAndDetach is the program with an ID: attach an existing segment read-only
// and detach it, showing what changes.
func attachAndDetach(l *lesson.Lesson, id int) error {
	l.Step("Segment %d before", id)
	if err := sayStat(l, id); err != nil {
		return err
	}
	l.Step("Attach it read-only")
	b, err := attach(l, id, unix.SHM_RDONLY)
	if err != nil {
		return err
	}
	l.Result("mapped at %#x, %d bytes", addr(b), len(b))
	if err := sayStat(l, id); err != nil {
		return err
	}
	l.Step("Detach it")
	if err := detach(l, b); err != nil {
		return err
	}
	return sayStat(l, id)
}

// attach is shmat(id, NULL, flags) with the lesson's error message.
func attach(l *lesson.Lesson, id, flags int) ([]byte, error) {
	call := fmt.Sprintf("shmat(%d, NULL, %s)", id, map[int]string{0: "0", unix.SHM_RDONLY: "SHM_RDONLY"}[flags])
	l.Call("%s", call)
	b, err := unix.SysvShmAttach(id, 0, flags)
	if err != nil {
		return nil, lesson.Failed(call, err, whyShmat(err, id))
	}
	return b, nil
}

// detach is shmdt(&b[0]), which is what unix.SysvShmDetach(b) does.
func detach(l *lesson.Lesson, b []byte) error {
	l.Call("shmdt(%#x)    (unix.SysvShmDetach(b))", addr(b))
	if err := unix.SysvShmDetach(b); err != nil {
		return lesson.Failed(fmt.Sprintf("shmdt(%#x)", addr(b)), err,
			"no attachment starts at that address: pass the slice SysvShmAttach returned, once")
	}
	return nil
}

// sayStat prints the fields of IPC_STAT this lesson is about.
func sayStat(l *lesson.Lesson, id int) error {
	var ds unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); err != nil {
		return lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_STAT)", id), err, whyShmat(err, id))
	}
	l.Result("shm_nattch %d, shm_lpid %d, shm_atime %s, shm_dtime %s",
		ds.Nattch, ds.Lpid, when(int64(ds.Atime)), when(int64(ds.Dtime)))
	return nil
}

// when formats a shmid_ds time as ipcs does: a clock time, or "0 (never)".
func when(t int64) string {
	if t == 0 {
		return "0 (never)"
	}
	return time.Unix(t, 0).Format("15:04:05")
}

func remove(id int) error {
	_, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	return err
}

// removeIfThere is a cleanup for a segment the lesson may have removed already.
func removeIfThere(id int) error {
	if err := remove(id); err != nil && !errors.Is(err, unix.EINVAL) {
		return err
	}
	return nil
}

// addr is the address of the first byte of an attachment.
func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// sliceAddr is the address SysvShmDetach would pass for b, or "none" for an empty slice.
func sliceAddr(b []byte) string {
	if len(b) == 0 {
		return "none"
	}
	return fmt.Sprintf("%#x", addr(b))
}

func errText(err error) string {
	if err == nil {
		return "0 (success)"
	}
	return lesson.ErrnoText(err)
}

// parseID parses a segment id. shmat and shmctl take a C int: parsed as 32 bits, a
// number too big is refused instead of being truncated to another segment's id
// (2^32+5 would name segment 5).
func parseID(s string) (int, error) {
	id, err := strconv.ParseInt(s, 10, 32)
	if err != nil || id < 0 {
		return 0, lesson.Usagef("%q is not a segment id: ids are numbers like those in the shmid column of ipcs -m", s)
	}
	return int(id), nil
}

func firstLines(s string, n int) []string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return lines
}

// whyShmat explains the errnos of shmat and IPC_STAT on an id.
func whyShmat(err error, id int) string {
	switch {
	case errors.Is(err, unix.EINVAL):
		return fmt.Sprintf("no segment has id %d (ipcs -m lists them)", id)
	case errors.Is(err, unix.EACCES):
		return "the segment's mode does not let you read it (or, to attach without SHM_RDONLY, read and write it); ipcs -m -i ID shows the mode"
	case errors.Is(err, unix.EIDRM):
		return "the segment was being destroyed at that moment"
	}
	return ""
}
