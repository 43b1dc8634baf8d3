//go:build linux

// Command 05-shmctl inspects, changes and removes a System V shared memory segment
// with shmctl(2):
//
//	int shmctl(int shmid, int cmd, struct shmid_ds *buf);
//	func unix.SysvShmCtl(id, cmd int, desc *unix.SysvShmDesc) (int, error)
//
// Run it with `go run ./05-shmctl` from the repository root; see README.md.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

const name = "05-shmctl"

const usage = `
usage: go run ./05-shmctl [-step] [-id ID]

Without -id: creates a segment of its own and takes it through shmctl(2):
IPC_STAT printed like "ipcs -m -i", IPC_SET changing the mode, what another user
may not do (EACCES, EPERM), SHM_LOCK, the system limits (IPC_INFO, SHM_INFO,
SHM_STAT), the errors, and IPC_RMID while attached: key 0, status "dest", ENOENT
by key, a second process attaching by id, destruction at the last detach.
Everything it creates is removed when it ends, however it ends.

With -id ID: shows an existing segment with IPC_STAT only. It never changes or
removes a segment it did not create. List ids with: ipcs -m
`

// The roles this program plays when it starts itself again (see reexec).
const (
	rolePeer     = "peer"     // attaches a segment by id, detaches when told
	roleStranger = "stranger" // run as nobody: tries IPC_STAT, IPC_SET, IPC_RMID
)

var roles lesson.Roles

func init() { roles = lesson.Roles{rolePeer: peer, roleStranger: stranger} }

const (
	segSize = 5000  // not a multiple of the page size, on purpose: see IPC_STAT
	segMode = 0o600 // rw for the owner only
)

func main() { lesson.Main(name, usage, run) }

func run(l *lesson.Lesson, args []string) error {
	// A second process is this program again, with its role as the first argument;
	// a role runs only when this lesson started it (lesson.Roles).
	if handled, err := roles.Dispatch(l, args); handled {
		return err
	}
	idArg := l.Flags.String("id", "", "show the existing segment `ID` with IPC_STAT only (never changes or removes it)")
	if err := l.Parse(args); err != nil {
		return err
	}
	if l.Flags.NArg() > 0 {
		return lesson.Usagef("unexpected argument %q: the only input is -id ID", l.Flags.Arg(0))
	}
	if !flagGiven(l.Flags, "id") {
		return tour(l)
	}
	// shmctl takes a C int: parse as 32 bits, so that a huge number is refused
	// rather than cut down to some other segment's id.
	id, err := strconv.ParseInt(*idArg, 10, 32)
	if err != nil {
		return lesson.Usagef("-id %q is not a segment id: give a number that fits in a C int, as ipcs -m lists them", *idArg)
	}
	return inspect(l, int(id))
}

// inspect is the -id mode: IPC_STAT of someone's segment, nothing else.
func inspect(l *lesson.Lesson, id int) error {
	l.Step("IPC_STAT segment %d", id)
	call := fmt.Sprintf("shmctl(%d, IPC_STAT, &buf)", id)
	l.Call(call)
	ds, err := stat(id)
	if err != nil {
		return lesson.Failed(call, err, whyStatFailed(err, id))
	}
	l.Result("0: the kernel copied the segment's struct shmid_ds into buf")
	showStat(l, id, &ds)
	l.Look("ipcs -m -i %d", id)
	showProcLine(l, id)
	if ds.Perm.Mode&shmDest != 0 {
		l.Say("Status dest: someone called IPC_RMID; it is destroyed when its %d attachment(s) detach.", ds.Nattch)
	}
	return nil
}

func whyStatFailed(err error, id int) string {
	switch {
	case errors.Is(err, unix.EINVAL) && id < 0:
		return "ids are never negative (list them with ipcs -m)"
	case errors.Is(err, unix.EINVAL):
		return fmt.Sprintf("no segment has id %d (list them with ipcs -m)", id)
	case errors.Is(err, unix.EACCES):
		return "its mode does not give you read permission, which IPC_STAT needs (ipcs -m shows its owner and perms)"
	case errors.Is(err, unix.EIDRM):
		return "the segment was being destroyed at that moment"
	}
	return ""
}

// tour is the default run: one segment of our own, through its whole life.
func tour(l *lesson.Lesson) error {
	t := &tourState{l: l}
	for _, step := range []func() error{
		t.create, t.attach, t.ipcStat, t.ipcSet, t.stranger, t.lock,
		t.limits, t.provokeErrors, t.rmid, t.keyIsFree, t.attachAfterRmid, t.lastDetach,
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

type tourState struct {
	l    *lesson.Lesson
	key  ftok.Key
	id   int
	mem  []byte        // our attachment; nil once detached
	peer *lesson.Child // the second process, once started
}

// create makes a key with ftok from a file of our own and a new segment for it.
func (t *tourState) create() error {
	l := t.l
	l.Step("Create a segment to control")
	f, err := os.CreateTemp("", "05-shmctl-key-")
	if err != nil {
		return err
	}
	f.Close()
	path := f.Name()
	l.Cleanup("remove "+path, func() error { return os.Remove(path) })

	// Another segment may already use the key ftok gives; try the next project id.
	for proj := 'C'; proj <= 'Z'; proj++ {
		if t.key, err = ftok.Ftok(path, int(proj)); err != nil {
			return err
		}
		call := fmt.Sprintf("shmget(%v, %d, IPC_CREAT|IPC_EXCL|%#o)", t.key, segSize, segMode)
		l.Call("ftok(%q, '%c') = %v", path, proj, t.key)
		l.Call(call)
		t.id, err = unix.SysvShmGet(int(t.key), segSize, unix.IPC_CREAT|unix.IPC_EXCL|segMode)
		if errors.Is(err, unix.EEXIST) {
			l.Result("%s: that key is taken; trying the next project id", lesson.ErrnoText(err))
			continue
		}
		if err != nil {
			return lesson.Failed(call, err, "see 02-shmget for what causes it")
		}
		id := t.id
		l.Cleanup(fmt.Sprintf("remove segment %d", id), func() error { return removeIfExists(id) })
		l.Result("id %d", id)
		l.Look("ipcs -m")
		return nil
	}
	return errors.New("every key tried is in use by another segment; remove stale ones (ipcs -m, ipcrm -m ID)")
}

// attach maps the segment and writes a message for the second process to read later.
func (t *tourState) attach() error {
	l := t.l
	l.Step("Attach it and write a message")
	call := fmt.Sprintf("shmat(%d, NULL, 0)", t.id)
	l.Call(call)
	mem, err := unix.SysvShmAttach(t.id, 0, 0)
	if err != nil {
		return lesson.Failed(call, err, "")
	}
	t.mem = mem
	l.Cleanup(fmt.Sprintf("detach segment %d", t.id), t.detach)
	msg := fmt.Sprintf("hello from pid %d", os.Getpid())
	copy(mem, msg)
	l.Result("attached at %p; wrote %q", &mem[0], msg)
	return nil
}

// detach detaches our attachment, if we still have it.
func (t *tourState) detach() error {
	if t.mem == nil {
		return nil
	}
	err := unix.SysvShmDetach(t.mem)
	t.mem = nil
	return err
}

// ipcStat reads the segment's shmid_ds and shows it the way ipcs does.
func (t *tourState) ipcStat() error {
	l := t.l
	l.Step("IPC_STAT: read the segment's struct shmid_ds")
	ds, err := t.stat()
	if err != nil {
		return err
	}
	showStat(l, t.id, &ds)
	l.Look("ipcs -m -i %d", t.id)
	l.Say("bytes is the size asked for (%d), not rounded up to pages; the kernel allocates %d.",
		ds.Segsz, roundToPage(uint64(ds.Segsz)))
	l.Say("cpid created it and lpid made the last shmat/shmdt: both are this process (pid %d).", os.Getpid())
	l.Say("nattch counts attachments (not processes); times are seconds, 0 prints \"Not set\".")
	showProcLine(l, t.id)
	return nil
}

// stat is IPC_STAT on our segment, narrated.
func (t *tourState) stat() (unix.SysvShmDesc, error) {
	call := fmt.Sprintf("shmctl(%d, IPC_STAT, &buf)", t.id)
	t.l.Call(call)
	ds, err := stat(t.id)
	if err != nil {
		return ds, lesson.Failed(call, err, whyStatFailed(err, t.id))
	}
	t.l.Result("0: buf holds key %v, mode %#o, nattch %d", ftok.Key(ds.Perm.Key), ds.Perm.Mode, ds.Nattch)
	return ds, nil
}

// ipcSet changes the mode, and shows what IPC_SET ignores.
func (t *tourState) ipcSet() error {
	l := t.l
	l.Step("IPC_SET: change the mode from %#o to 0640", segMode)
	before, err := stat(t.id)
	if err != nil {
		return lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_STAT, &buf)", t.id), err, "")
	}
	waitForNextSecond(int64(before.Ctime))
	l.Say("IPC_SET copies only shm_perm.uid, shm_perm.gid and the low 9 bits of shm_perm.mode.")
	l.Say("To prove it, buf also asks for SHM_DEST (01000), shm_segsz 1 and cuid 4242.")
	want := before
	want.Perm.Mode = shmDest | 0o640
	want.Segsz = 1
	want.Perm.Cuid = 4242
	call := fmt.Sprintf("shmctl(%d, IPC_SET, &buf)  /* buf.shm_perm.mode = %#o */", t.id, want.Perm.Mode)
	l.Call(call)
	if _, err := unix.SysvShmCtl(t.id, unix.IPC_SET, &want); err != nil {
		return lesson.Failed(call, err, "")
	}
	l.Result("0")
	after, err := t.stat()
	if err != nil {
		return err
	}
	if after.Perm.Mode&shmDest == 0 {
		l.Say("mode %#o -> %#o: the permission bits changed; the SHM_DEST bit in buf was ignored", before.Perm.Mode, after.Perm.Mode)
	} else {
		l.Say("mode %#o -> %#o: SHM_DEST is set, so another process called IPC_RMID on it meanwhile", before.Perm.Mode, after.Perm.Mode)
	}
	l.Say("bytes %d and cuid %d: buf's %d and %d were ignored", after.Segsz, after.Perm.Cuid, want.Segsz, want.Perm.Cuid)
	l.Say("change_time %s -> %s: IPC_SET updates ctime", ctime(int64(before.Ctime), time.Local), ctime(int64(after.Ctime), time.Local))
	l.Look("ipcs -m -i %d", t.id)
	return nil
}

// stranger runs this program again as the unprivileged user nobody, which may
// neither read (0640 gives "other" nothing) nor change nor remove our segment.
func (t *tourState) stranger() error {
	l := t.l
	l.Step("Another user: EACCES and EPERM")
	l.Say("IPC_STAT needs read permission (EACCES without it); IPC_SET and IPC_RMID need the")
	l.Say("caller to be the owner or creator, or privileged (EPERM otherwise).")
	if os.Geteuid() != 0 {
		l.Say("Only root can start a process as another user, so this step is skipped. To see it:")
		l.Look("sudo $(command -v go) run ./05-shmctl")
		return nil
	}
	uid, gid := reexec.Nobody()
	cmd, err := reexec.CommandAs(uid, gid, roleStranger, strconv.Itoa(t.id))
	if err != nil {
		return err
	}
	l.Cleanup("remove the copy of this program made for nobody", func() error { reexec.Cleanup(); return nil })
	l.Call("a second process, as nobody (uid %d), tries IPC_STAT, IPC_SET and IPC_RMID on %d:", uid, t.id)
	c, err := lesson.StartChild(l, cmd)
	if err != nil {
		return err
	}
	if err := c.Finish(); err != nil {
		return fmt.Errorf("the process running as nobody (pid %d): %w", c.Pid, err)
	}
	return nil
}

// lock is SHM_LOCK and SHM_UNLOCK: Linux extras that pin the pages in RAM.
func (t *tourState) lock() error {
	l := t.l
	l.Step("SHM_LOCK and SHM_UNLOCK (Linux only)")
	call := fmt.Sprintf("shmctl(%d, SHM_LOCK, NULL)", t.id)
	l.Call(call)
	if _, err := unix.SysvShmCtl(t.id, cmdSHMLock, nil); err != nil {
		// Not fatal: an unprivileged user may lack RLIMIT_MEMLOCK room.
		l.Result("%s: needs CAP_IPC_LOCK, or to be the owner or creator within RLIMIT_MEMLOCK (ulimit -l)", lesson.ErrnoText(err))
		return nil
	}
	l.Result("0: its pages will not be swapped out (SHM_LOCK does not bring them in: touch them first)")
	ds, err := t.stat()
	if err != nil {
		return err
	}
	l.Say("mode %#o has SHM_LOCKED (02000); ipcs -m shows status %q", ds.Perm.Mode, status(uint32(ds.Perm.Mode)))
	l.Look("ipcs -m")
	call = fmt.Sprintf("shmctl(%d, SHM_UNLOCK, NULL)", t.id)
	l.Call(call)
	if _, err := unix.SysvShmCtl(t.id, cmdSHMUnlock, nil); err != nil {
		return lesson.Failed(call, err, "")
	}
	l.Result("0: swappable again")
	return nil
}

// limits shows IPC_INFO, SHM_INFO and SHM_STAT next to /proc/sys/kernel.
func (t *tourState) limits() error {
	l := t.l
	l.Step("System-wide: IPC_INFO, SHM_INFO, SHM_STAT (Linux only)")
	l.Call("shmctl(0, IPC_INFO, (struct shmid_ds *)&shminfo)")
	lim, maxIndex, err := ipcInfo()
	if err != nil {
		return lesson.Failed("shmctl(0, IPC_INFO, &shminfo)", err, "")
	}
	l.Result("%d: the highest index in use in the kernel's table of segments", maxIndex)
	for _, row := range []struct {
		field string
		value uint
		file  string
		means string
	}{
		{"shmmax", lim.Shmmax, "shmmax", "bytes, the largest segment"},
		{"shmmin", lim.Shmmin, "", "byte, the smallest segment"},
		{"shmmni", lim.Shmmni, "shmmni", "segments in the system"},
		{"shmseg", lim.Shmseg, "", "segments per process: reported, not enforced"},
		{"shmall", lim.Shmall, "shmall", "pages of shared memory in the system"},
	} {
		proc := "(no file)"
		if row.file != "" {
			proc = "/proc/sys/kernel/" + row.file + " = " + readProcValue(row.file)
		}
		l.Say("%-7s %-21d %-45s %s", row.field, row.value, row.means, proc)
	}
	// SHMMAX and SHMALL in <linux/shm.h>: ULONG_MAX - (1UL << 24). Say so only when
	// the limits have not been changed (sysctl kernel.shmmax, kernel.shmall).
	if def := ^uint(0) - 1<<24; lim.Shmmax == def || lim.Shmall == def {
		l.Say("%d is ULONG_MAX - 2^24, the default since Linux 3.16: in effect, no limit.", def)
	}
	l.Look("ipcs -m -l")

	l.Call("shmctl(0, SHM_INFO, (struct shmid_ds *)&shm_info)")
	use, _, err := shmInfo()
	if err != nil {
		return lesson.Failed("shmctl(0, SHM_INFO, &shm_info)", err, "")
	}
	l.Result("used_ids %d, shm_tot %d pages, shm_rss %d, shm_swp %d", use.UsedIDs, use.ShmTot, use.ShmRSS, use.ShmSwp)
	if list, err := procsysv.ReadShm(); err == nil {
		l.Say("/proc/sysvipc/shm lists %d segment(s) now (ours included)", len(list))
	}
	l.Look("ipcs -m -u")

	l.Say("SHM_STAT takes an index into that table instead of an id and returns the id:")
	index := findIndex(t.id, maxIndex)
	if index < 0 {
		l.Result("SHM_STAT found no index holding segment %d (it needs read permission)", t.id)
		return nil
	}
	l.Call("shmctl(%d, SHM_STAT, &buf)", index)
	l.Result("%d: our segment", t.id)
	return nil
}

// provokeErrors shows the errors a learner can cause on purpose.
func (t *tourState) provokeErrors() error {
	l := t.l
	l.Step("Errors: EINVAL and EFAULT")
	var ds unix.SysvShmDesc
	for _, c := range []struct {
		call string
		id   int
		cmd  int
		why  string
	}{
		{"shmctl(%d, 99, &buf)", t.id, 99, "99 is no command, though the segment exists"},
		{"shmctl(%d, IPC_STAT, &buf)", -1, unix.IPC_STAT, "a negative id is never valid"},
	} {
		l.Call(c.call, c.id)
		_, err := unix.SysvShmCtl(c.id, c.cmd, &ds)
		l.Result("%s: %s", errText(err), c.why)
	}
	// EFAULT: buf points where nothing is mapped (address 1, in the never-mapped
	// first page). The kernel checks the pointer; nothing in this process is touched.
	for _, cmd := range []struct {
		name string
		cmd  int
	}{{"IPC_STAT", unix.IPC_STAT}, {"IPC_SET", unix.IPC_SET}} {
		l.Call("shmctl(%d, %s, (struct shmid_ds *)1)", t.id, cmd.name)
		_, _, errno := unix.Syscall(unix.SYS_SHMCTL, uintptr(t.id), uintptr(cmd.cmd), 1)
		l.Result("%s: buf is not an address this process can use", errText(errnoOrNil(errno)))
	}
	l.Say("EIDRM means the segment was destroyed between the kernel finding it and locking it:")
	l.Say("a race you cannot provoke reliably. A segment already gone gives EINVAL (step 12).")
	return nil
}

// rmid marks the segment for removal while we are still attached.
func (t *tourState) rmid() error {
	l := t.l
	l.Step("IPC_RMID while attached: marked, not destroyed")
	call := fmt.Sprintf("shmctl(%d, IPC_RMID, NULL)", t.id)
	l.Call(call)
	if _, err := unix.SysvShmCtl(t.id, unix.IPC_RMID, nil); err != nil {
		return lesson.Failed(call, err, "")
	}
	l.Result("0")
	ds, err := t.stat()
	if err != nil {
		return err
	}
	showStat(l, t.id, &ds)
	l.Say("The segment still exists: nattch is %d. The kernel set SHM_DEST (01000) in the mode", ds.Nattch)
	l.Say("(%#o) and changed the key to 0x00000000 so that shmget can no longer find it.", ds.Perm.Mode)
	l.Look("ipcs -m        # key 0x00000000, status %s", status(uint32(ds.Perm.Mode)))
	showProcLine(l, t.id)
	return nil
}

// keyIsFree shows that shmget no longer finds the key, and that it can be reused.
func (t *tourState) keyIsFree() error {
	l := t.l
	l.Step("The key is free: shmget(%v) no longer finds the segment", t.key)
	call := fmt.Sprintf("shmget(%v, 0, 0)", t.key)
	l.Call(call)
	_, err := unix.SysvShmGet(int(t.key), 0, 0)
	if !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("%s: want ENOENT for a marked segment's key, got %s", call, errText(err))
	}
	l.Result("%s: no segment has key %v any more", lesson.ErrnoText(err), t.key)

	call = fmt.Sprintf("shmget(%v, %d, IPC_CREAT|IPC_EXCL|%#o)", t.key, segSize, segMode)
	l.Call(call)
	id2, err := unix.SysvShmGet(int(t.key), segSize, unix.IPC_CREAT|unix.IPC_EXCL|segMode)
	if err != nil {
		return lesson.Failed(call, err, "")
	}
	l.Cleanup(fmt.Sprintf("remove segment %d", id2), func() error { return removeIfExists(id2) })
	l.Result("id %d: a new, different segment with the same key (IPC_EXCL did not see the old one)", id2)
	l.Call("shmctl(%d, IPC_RMID, NULL)", id2)
	if _, err := unix.SysvShmCtl(id2, unix.IPC_RMID, nil); err != nil {
		return lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_RMID, NULL)", id2), err, "")
	}
	_, exists, _ := procsysv.FindShm(id2)
	l.Result("0: nobody had it attached, so it was destroyed at once (in /proc/sysvipc/shm: %v)", exists)
	return nil
}

// attachAfterRmid starts a second process that attaches the marked segment by id.
func (t *tourState) attachAfterRmid() error {
	l := t.l
	l.Step("A second process attaches by id after IPC_RMID (Linux only)")
	cmd, err := reexec.Command(rolePeer, strconv.Itoa(t.id))
	if err != nil {
		return err
	}
	c, err := lesson.StartChild(l, cmd)
	if err != nil {
		return err
	}
	t.peer = c
	// Its end of input is its word to detach and exit (see peer): on Ctrl-C or an
	// error, closing it ends the second process too.
	l.Cleanup("end the second process", func() error { _ = c.Finish(); return nil })
	l.Call("second process, pid %d: shmat(%d, NULL, 0)", c.Pid, t.id)
	if _, err := c.Await("ATTACHED"); err != nil {
		return err
	}
	ds, err := t.stat()
	if err != nil {
		return err
	}
	l.Say("nattch is %d. Linux lets a process that knows the id (and has permission) attach a", ds.Nattch)
	l.Say("marked segment; other systems refuse, so portable programs do not rely on it.")
	return nil
}

// lastDetach detaches the second process, then us: the last detach destroys it.
func (t *tourState) lastDetach() error {
	l := t.l
	l.Step("The last detach destroys the segment")
	l.Call("second process: shmdt(addr)")
	if err := t.peer.Send("detach"); err != nil {
		return err
	}
	if _, err := t.peer.Await("DETACHED"); err != nil {
		return err
	}
	if err := t.peer.Finish(); err != nil {
		return fmt.Errorf("the second process (pid %d): %w", t.peer.Pid, err)
	}
	ds, err := t.stat()
	if err != nil {
		return err
	}
	l.Say("nattch %d: still there, because this process is attached", ds.Nattch)

	l.Call("shmdt(%p)", &t.mem[0])
	if err := t.detach(); err != nil {
		return lesson.Failed("shmdt", err, "")
	}
	_, exists, err := procsysv.FindShm(t.id)
	if err != nil {
		return err
	}
	l.Result("0: segment %d in /proc/sysvipc/shm: %v. It is gone.", t.id, exists)
	call := fmt.Sprintf("shmctl(%d, IPC_STAT, &buf)", t.id)
	l.Call(call)
	_, err = stat(t.id)
	l.Result("%s: no segment has that id any more", errText(err))
	l.Say("The robust pattern: call IPC_RMID as soon as every peer has attached. From then on")
	l.Say("the kernel removes the segment when the last process detaches or dies, even after a crash.")
	l.Look("ipcs -m")
	return nil
}

// peer is the second process: it attaches the segment whose id is its argument
// (only the one its parent created), says what it reads, and detaches when a line
// (or end of input) arrives on stdin. It tells the parent ATTACHED and DETACHED.
func peer(l *lesson.Lesson, args []string) error {
	id, err := roleID(rolePeer, args)
	if err != nil {
		return err
	}
	if _, err := parentsSegment(id, segSize); err != nil {
		return err
	}
	call := fmt.Sprintf("shmat(%d, NULL, 0)", id)
	mem, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return lesson.Failed(call, err, "")
	}
	l.Cleanup("detach", func() error {
		if mem == nil {
			return nil
		}
		return unix.SysvShmDetach(mem)
	})
	fmt.Fprintf(l.Out, "attached at %p, read %q\n", &mem[0], cString(mem))
	l.Tell("ATTACHED")
	_, _ = bufio.NewReader(l.In).ReadString('\n')
	if err := unix.SysvShmDetach(mem); err != nil {
		return lesson.Failed("shmdt", err, "")
	}
	mem = nil
	fmt.Fprintln(l.Out, "detached")
	l.Tell("DETACHED")
	return nil
}

// stranger runs as another user and reports what the kernel lets it do. It acts
// only on its parent's segment, and only as a process that should be refused: its
// IPC_SET asks for the owner and mode the segment already has, so even a success
// would change nothing but the time.
func stranger(l *lesson.Lesson, args []string) error {
	id, err := roleID(roleStranger, args)
	if err != nil {
		return err
	}
	s, err := parentsSegment(id, segSize)
	if err != nil {
		return err
	}
	euid := uint32(os.Geteuid())
	if euid == 0 || euid == s.UID || euid == s.CUID {
		return fmt.Errorf("uid %d owns or created segment %d, or is root: this part of the lesson shows what a stranger may not do", euid, id)
	}
	var ds unix.SysvShmDesc
	_, err = unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
	fmt.Fprintf(l.Out, "uid %d: shmctl(%d, IPC_STAT, &buf): %s\n", euid, id, errText(err))
	ds = unix.SysvShmDesc{}
	ds.Perm.Uid, ds.Perm.Gid, ds.Perm.Mode = s.UID, s.GID, s.Mode&permBits
	_, err = unix.SysvShmCtl(id, unix.IPC_SET, &ds)
	fmt.Fprintf(l.Out, "uid %d: shmctl(%d, IPC_SET, &buf): %s\n", euid, id, errText(err))
	_, err = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	fmt.Fprintf(l.Out, "uid %d: shmctl(%d, IPC_RMID, NULL): %s\n", euid, id, errText(err))
	return nil
}

// showStat prints ds as ipcs -m -i does.
func showStat(l *lesson.Lesson, id int, ds *unix.SysvShmDesc) {
	for _, line := range ipcsLines(id, ds, time.Local) {
		l.Say("  %s", line)
	}
}

// showProcLine prints the segment's line of /proc/sysvipc/shm, where ipcs reads.
func showProcLine(l *lesson.Lesson, id int) {
	s, ok, err := procsysv.FindShm(id)
	if err != nil || !ok {
		l.Say("segment %d is not in /proc/sysvipc/shm", id)
		return
	}
	l.Say("The same numbers in /proc/sysvipc/shm (key in decimal, perms in octal):")
	l.Say("  key %d shmid %d perms %o size %d cpid %d lpid %d nattch %d", int32(s.Key), s.ID, s.Mode, s.Size, s.CPID, s.LPID, s.Nattch)
	l.Say("  uid %d gid %d cuid %d cgid %d atime %d dtime %d ctime %d", s.UID, s.GID, s.CUID, s.CGID, s.Atime, s.Dtime, s.Ctime)
	l.Look("awk '$2 == %d' /proc/sysvipc/shm", id)
}

// removeIfExists is IPC_RMID for a cleanup: a segment already destroyed (EINVAL)
// is fine.
func removeIfExists(id int) error {
	_, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	if errors.Is(err, unix.EINVAL) {
		return nil
	}
	return err
}

// errText names the errno in err ("EINVAL (invalid argument)"), or "0" for success.
func errText(err error) string {
	if err == nil {
		return "0 (no error)"
	}
	return lesson.ErrnoText(err)
}

func errnoOrNil(errno unix.Errno) error {
	if errno == 0 {
		return nil
	}
	return errno
}

// cString is the bytes of b up to the first NUL, as a string.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

func roundToPage(n uint64) uint64 {
	page := uint64(os.Getpagesize())
	return (n + page - 1) / page * page
}

// waitForNextSecond returns once the kernel's clock has passed the second sec, so
// that a time the kernel stamps from now on (like shm_ctime) differs from sec. The
// kernel stamps IPC times from its coarse clock, updated once a tick, which can lag
// time.Now by some milliseconds; CLOCK_REALTIME_COARSE reads that clock.
func waitForNextSecond(sec int64) {
	for {
		var now unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_REALTIME_COARSE, &now); err != nil || int64(now.Sec) > sec {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readProcValue reads a /proc/sys/kernel/ file such as shmmax.
func readProcValue(file string) string {
	b, err := os.ReadFile("/proc/sys/kernel/" + file)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return strings.TrimSpace(string(b))
}

// flagGiven reports whether the flag called name was on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
