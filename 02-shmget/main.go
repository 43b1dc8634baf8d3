//go:build linux

// Command 02-shmget shows how shmget(2) creates a System V shared memory segment
// or finds an existing one, and every way it says no.
//
//	C:  int shmget(key_t key, size_t size, int shmflg);
//	Go: id, err := unix.SysvShmGet(key, size, flag)
//
// The program creates a segment from an ftok key with IPC_CREAT|IPC_EXCL, meets
// EEXIST, ENOENT and EINVAL for real, compares the size asked for with the pages
// the kernel counts, shows memory arriving only when pages are touched, ENOMEM and
// SHM_NORESERVE, SHM_HUGETLB, hands an IPC_PRIVATE segment to a second process by
// its id, and shows the permission bits at work (execute included), run as root by
// a process it starts as the user nobody. Everything it creates it removes, however
// it ends. Read README.md beside it; tour() below is the table of contents.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

const name = "02-shmget"

const usage = `usage: go run ./02-shmget [-step] [-size BYTES] [-mode OCTAL]

Creates a System V shared memory segment with shmget(2) and shows: IPC_CREAT|IPC_EXCL
and EEXIST, opening with size 0, ENOENT without IPC_CREAT, EINVAL for size 0 and for
a size larger than the segment, the size asked for against the pages the kernel
counts, a zero-filled new segment, memory arriving only when a page is touched,
ENOMEM and SHM_NORESERVE (sizes chosen from this machine's memory), SHM_HUGETLB, an
IPC_PRIVATE segment used by a second process that was given its id, and the
permission bits, execute included, tested by a process running as nobody (as root)
or by this one. Everything created is removed at the end, also on error or Ctrl-C.`

func main() { lesson.Main(name, usage, run) }

// maxSize caps -size: the lesson reads every byte of the segment it creates, and
// it should stay harmless on a shared machine. The kernel's own limit is SHMMAX.
const maxSize = 64 << 20

func run(l *lesson.Lesson, args []string) error {
	if handled, err := roles.Dispatch(l, args); handled {
		return err
	}
	size := l.Flags.Int("size", 100, "segment size in bytes, 1 to 64 MiB (0 shows EINVAL); the kernel counts whole pages")
	modeFlag := l.Flags.String("mode", "0600", "permission bits of the segment, octal, at most 0777; the owner digit binds you too: without 6 in it the lesson's own calls fail with EACCES (root passes: CAP_IPC_OWNER)")
	if err := l.Parse(args); err != nil {
		return err
	}
	if l.Flags.NArg() > 0 {
		return lesson.Usagef("unexpected argument %s: this lesson takes only flags", lesson.Quote(l.Flags.Arg(0)))
	}
	mode, err := parseMode(*modeFlag)
	if err != nil {
		return err
	}
	if *size < 0 || *size > maxSize {
		return lesson.Usagef("-size %d: give 1 to %d bytes (0 to see shmget refuse it with EINVAL)", *size, maxSize)
	}
	return tour(l, *size, mode)
}

// tour is the lesson: each function below is one numbered step.
func tour(l *lesson.Lesson, size, mode int) error {
	limits(l)
	key, keyFile, err := makeKey(l)
	if err != nil {
		return err
	}
	id, err := create(l, key, size, mode)
	if err != nil {
		return err
	}
	if err := createAgain(l, key, size, mode, id); err != nil {
		return err
	}
	if err := open(l, key, size, id); err != nil {
		return err
	}
	if err := missing(l, keyFile, mode); err != nil {
		return err
	}
	b, err := sizes(l, id, size, mode)
	if err != nil {
		return err
	}
	zeroFilled(l, b)
	big, err := untouched(l) // memory.go
	if err != nil {
		return err
	}
	if err := touch(l, big); err != nil { // memory.go
		return err
	}
	if err := overcommit(l); err != nil { // memory.go
		return err
	}
	if err := hugePages(l); err != nil { // memory.go
		return err
	}
	if err := private(l, size); err != nil {
		return err
	}
	nobody, err := permissions(l, key, mode)
	if err != nil {
		return err
	}
	if err := execute(l, keyFile, nobody); err != nil { // execute.go
		return err
	}
	outlive(l, id)
	return nil
}

func limits(l *lesson.Lesson) {
	l.Step("The system's limits")
	page := os.Getpagesize()
	l.Result("page size %d bytes (getpagesize(), os.Getpagesize())", page)
	for _, lim := range []struct{ name, what string }{
		{"shmmax", "bytes: the largest segment shmget will create (EINVAL above it)"},
		{"shmall", "pages: all segments together (ENOSPC above it)"},
		{"shmmni", "segments at most in the system (ENOSPC when all are taken)"},
	} {
		v, err := readNumber("/proc/sys/kernel/" + lim.name)
		if err != nil {
			l.Result("%s: %s", strings.ToUpper(lim.name), lesson.ErrnoText(err))
			continue
		}
		note := ""
		if v > 1<<60 {
			note = " (practically unlimited)"
		}
		l.Result("%-6s %d %s%s", strings.ToUpper(lim.name), v, lim.what, note)
	}
	l.Look("sysctl kernel.shmmax kernel.shmall kernel.shmmni   # or: ipcs -m -l")
}

// makeKey makes a key with ftok from a file of the lesson's own, as 01-ftok did.
func makeKey(l *lesson.Lesson) (ftok.Key, string, error) {
	l.Step("A key from ftok")
	dir, err := os.MkdirTemp("", "02-shmget-")
	if err != nil {
		return 0, "", fmt.Errorf("creating a temporary directory: %w", err)
	}
	l.Cleanup("remove "+dir, func() error { return os.RemoveAll(dir) })
	file := filepath.Join(dir, "keyfile")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		return 0, "", err
	}
	l.Call("ftok(%q, 'A')", file)
	key, err := ftok.Ftok(file, 'A')
	if err != nil {
		return 0, "", lesson.Failed(fmt.Sprintf("ftok(%q, 'A')", file), err, "")
	}
	l.Result("key %v (how keys are made: go run ./01-ftok)", key)
	return key, file, nil
}

func create(l *lesson.Lesson, key ftok.Key, size, mode int) (int, error) {
	l.Step("Create a segment: IPC_CREAT|IPC_EXCL")
	l.Say("C:  int shmget(key_t key, size_t size, int shmflg);")
	l.Say("Go: id, err := unix.SysvShmGet(key, size, flag)")
	flg := unix.IPC_CREAT | unix.IPC_EXCL | mode
	id, err := shmget(l, key, size, flg)
	if err != nil {
		return 0, lesson.Failed(shmgetCall(key, size, flg), err, whyCreateFailed(err, size))
	}
	removeSegment(l, id)
	l.Result("id %d", id)
	l.Say("The id (shmid) is what shmat and shmctl take; the key only finds it. IPC_CREAT")
	l.Say("creates the segment if the key has none; with IPC_EXCL it must be new. The low")
	l.Say("9 bits of shmflg are its permissions, %04o = %s.", mode, rwx(mode))
	if mode&0o600 != 0o600 {
		if hasCapIPCOwner() {
			l.Say("%04o gives the owner only %s, yet this program, the owner, attaches it", mode, rwx(mode)[:3])
			l.Say("read-write below: it has CAP_IPC_OWNER, as root does, which skips the check.")
		} else {
			l.Say("%04o gives the owner only %s, and the owner digit binds the owner too:", mode, rwx(mode)[:3])
			l.Say("watch this program's own calls on its segment fail with EACCES below.")
		}
	}
	l.Look("ipcs -m -i %d", id)
	return id, nil
}

// whyCreateFailed explains why creating a segment failed.
func whyCreateFailed(err error, size int) string {
	switch {
	case errors.Is(err, unix.EINVAL) && size == 0:
		return "size 0 cannot create a segment: a new segment needs at least SHMMIN (1) byte and at most SHMMAX; size 0 is only for opening one that exists"
	case errors.Is(err, unix.EINVAL):
		return "the size is above SHMMAX (sysctl kernel.shmmax)"
	case errors.Is(err, unix.EEXIST):
		return "a segment with this key exists already (ipcs -m; remove a leftover of yours with ipcrm -m ID)"
	case errors.Is(err, unix.ENOSPC):
		return "all SHMMNI segment ids are taken, or the segment would pass SHMALL pages in total (ipcs -m -l)"
	case errors.Is(err, unix.ENOMEM):
		return "the size is more than the kernel's overcommit check allows (/proc/sys/vm/overcommit_memory; this lesson's ENOMEM step shows it)"
	}
	return ""
}

func createAgain(l *lesson.Lesson, key ftok.Key, size, mode, id int) error {
	l.Step("Create it again: EEXIST")
	flg := unix.IPC_CREAT | unix.IPC_EXCL | mode
	_, err := shmget(l, key, size, flg)
	if err == nil {
		return fmt.Errorf("%s succeeded twice: IPC_EXCL should have refused", shmgetCall(key, size, flg))
	}
	l.Result("%s", lesson.ErrnoText(err))
	l.Say("IPC_EXCL refuses a key that has a segment. When several processes start at once,")
	l.Say("each tries IPC_CREAT|IPC_EXCL: exactly one wins and initialises the segment, the")
	l.Say("others get EEXIST and open it instead.")

	flg = unix.IPC_CREAT | mode
	got, err := shmget(l, key, size, flg)
	if errors.Is(err, unix.EACCES) {
		return ownerDenied(shmgetCall(key, size, flg), err, mode,
			"opening asks for every permission bit in shmflg, its three digits folded into one (here "+rwx(foldedRequest(mode))[6:]+")")
	}
	if err != nil {
		return lesson.Failed(shmgetCall(key, size, flg), err, "")
	}
	l.Result("id %d: IPC_CREAT without IPC_EXCL opens the segment that exists (same id)", got)
	if got != id {
		return fmt.Errorf("IPC_CREAT gave id %d, not the existing %d", got, id)
	}
	return nil
}

// foldedRequest is what shmget asks for when it opens a segment with the permission
// bits perm: the kernel ORs the three digits into one (ipcperms in ipc/util.c), so
// 0204 asks for read and write.
func foldedRequest(perm int) int { return (perm>>6 | perm>>3 | perm) & 7 }

func open(l *lesson.Lesson, key ftok.Key, size, id int) error {
	l.Step("Open the existing segment: size 0, no IPC_CREAT")
	got, err := shmget(l, key, 0, 0)
	if err != nil {
		return lesson.Failed(shmgetCall(key, 0, 0), err, "")
	}
	l.Result("id %d (the same)", got)
	if got != id {
		return fmt.Errorf("opening gave id %d, not %d", got, id)
	}
	l.Say("Size 0 means \"whatever size it has\": the usual way to open a segment.")
	l.Say("A size up to the segment's own is accepted too; one byte more is not:")
	_, err = shmget(l, key, size+1, 0)
	if err == nil {
		return fmt.Errorf("%s succeeded: the kernel should refuse a size above the segment's", shmgetCall(key, size+1, 0))
	}
	l.Result("%s", lesson.ErrnoText(err))
	l.Say("EINVAL: the segment has %d bytes and %d were asked for. It does not matter that", size, size+1)
	l.Say("the segment takes whole pages (next steps): the kernel compares with the size it")
	l.Say("was created with.")
	return nil
}

func missing(l *lesson.Lesson, keyFile string, mode int) error {
	l.Step("A key with no segment: ENOENT, and size 0 when creating: EINVAL")
	key, err := unusedKey(keyFile)
	if err != nil {
		return err
	}
	_, err = shmget(l, key, 100, mode)
	if err == nil {
		return fmt.Errorf("%s found a segment: expected none", shmgetCall(key, 100, mode))
	}
	l.Result("%s", lesson.ErrnoText(err))
	l.Say("No segment has key %v, and without IPC_CREAT shmget only looks.", key)

	flg := unix.IPC_CREAT | unix.IPC_EXCL | mode
	id, err := shmget(l, key, 0, flg)
	if err == nil {
		removeSegment(l, id)
		return fmt.Errorf("%s created segment %d: expected EINVAL", shmgetCall(key, 0, flg), id)
	}
	l.Result("%s", lesson.ErrnoText(err))
	l.Say("A new segment needs a size from SHMMIN (1) to SHMMAX bytes; 0 only opens.")
	return nil
}

// unusedKey returns ftok(keyFile, id) for the first id from 'B' whose key has no
// segment, so that the ENOENT above is certain.
func unusedKey(keyFile string) (ftok.Key, error) {
	for id := 'B'; id <= 'Z'; id++ {
		key, err := ftok.Ftok(keyFile, int(id))
		if err != nil {
			return 0, err
		}
		if _, err := unix.SysvShmGet(int(key), 0, 0); errors.Is(err, unix.ENOENT) {
			return key, nil
		}
	}
	return 0, fmt.Errorf("every key from ftok(%q, 'B'..'Z') has a segment: run ipcs -m", keyFile)
}

func sizes(l *lesson.Lesson, id, size, mode int) ([]byte, error) {
	l.Step("The size asked for, and the pages the kernel counts")
	ds, err := ipcStat(l, id)
	if errors.Is(err, unix.EACCES) {
		return nil, ownerDenied(fmt.Sprintf("shmctl(%d, IPC_STAT, &ds)", id), err, mode, "IPC_STAT needs read")
	}
	if err != nil {
		return nil, lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_STAT, &ds)", id), err, "")
	}
	l.Result("ds.shm_segsz = %d: the size asked for, which ipcs shows as bytes", ds.Segsz)
	l.Look("ipcs -m -i %d    # or: awk '$2 == %d' /proc/sysvipc/shm (size column)", id, id)

	b, _, err := attach(l, id, 0)
	if errors.Is(err, unix.EACCES) {
		return nil, ownerDenied(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, mode, "a read-write shmat needs read and write")
	}
	if err != nil {
		return nil, lesson.Failed(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, "")
	}
	l.Result("attached at %#x; Go's slice has len %d", addr(b), len(b))

	page := os.Getpagesize()
	pages := (size + page - 1) / page
	if m, err := findMapping(addr(b)); err != nil {
		l.Result("could not read /proc/self/maps: %v", err)
	} else {
		l.Result("/proc/self/maps: %s", m.line)
		l.Result("the mapping is %d bytes: %d page(s) of %d", m.size, m.size/uint64(page), page)
	}
	l.Say("The kernel deals in pages: %d bytes take %d page(s) = %d bytes of address space", size, pages, pages*page)
	l.Say("in each process that attaches the segment, and count as %d page(s) against SHMALL.", pages)
	l.Say("shm_segsz and Go's slice keep to %d bytes. Counted is not allocated: no memory", size)
	l.Say("is behind these pages until a process touches them (two steps on).")
	l.Look("grep SYSV /proc/%d/maps    # while the segment is attached (-step pauses here)", os.Getpid())
	return b, nil
}

func zeroFilled(l *lesson.Lesson, b []byte) {
	l.Step("A new segment is zero-filled")
	l.Call("count the bytes of the attachment that are not zero")
	nonzero := len(b) - bytes.Count(b, []byte{0})
	l.Result("%d of its %d bytes are not zero", nonzero, len(b))
	l.Say("The kernel clears a page before anyone can see it, so no process reads what")
	l.Say("another left in that memory. A creator can make zero mean \"not initialised yet\",")
	l.Say("but only with ordering: it fills in the data, then writes a flag (a magic")
	l.Say("number) last, with sync/atomic, and a reader trusts the rest only after an")
	l.Say("atomic load of the flag sees it. Without that, a nonzero byte proves nothing:")
	l.Say("another process may see the creator's writes in another order, or half done.")
	l.Say("03-shmat's writeMessage shows the pattern.")
}

func private(l *lesson.Lesson, size int) error {
	l.Step("IPC_PRIVATE: a new segment, not a private one")
	flg := unix.IPC_CREAT | 0o600
	id, err := shmget(l, ftok.Private, size, flg)
	if err != nil {
		return lesson.Failed(shmgetCall(ftok.Private, size, flg), err, whyCreateFailed(err, size))
	}
	removeSegment(l, id)
	l.Result("id %d, key 0x00000000", id)
	l.Say("IPC_PRIVATE (key 0) means \"always create a new segment\": no other process can")
	l.Say("find it by key, but any process that learns the id and passes the permission")
	l.Say("check can attach it. Here a second process gets the id on its command line.")
	l.Look("ipcs -m    # key 0x00000000, shmid %d", id)

	b, _, err := attach(l, id, 0)
	if err != nil {
		return lesson.Failed(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, "")
	}
	sent := fmt.Sprintf("hello from pid %d", os.Getpid())
	write(b, sent)
	l.Result("attached at %#x; wrote %q into segment %d", addr(b), sent, id)

	cmd, err := reexec.Command(roleAttach, strconv.Itoa(id))
	if err != nil {
		return err
	}
	l.Call("start: %s %s %d   (this program again, as a separate process)", filepath.Base(cmd.Path), roleAttach, id)
	child, err := lesson.StartChild(l, cmd)
	if err != nil {
		return err
	}
	if _, err := child.Await(tellWrote); err != nil {
		return err
	}
	l.Result("segment %d now holds %q", id, message(b))
	if err := child.Finish(); err != nil {
		return fmt.Errorf("the second process failed: %v", err)
	}
	return nil
}

// permissions shows the permission bits at work. Run as root, it starts a process
// as the user nobody to try them, and returns it still running: the execute step
// asks it for more.
func permissions(l *lesson.Lesson, key ftok.Key, mode int) (*lesson.Child, error) {
	l.Step("Permission bits, tested by another user")
	l.Say("Each octal digit is one class, owner/group/others: read 4 + write 2 + execute 1.")
	l.Say("6 = 4+2 is read and write; 7 = 4+2+1 adds execute (the next step shows that the")
	l.Say("kernel checks it too). So 0644 is rw-r--r--: the owner reads and writes, everyone")
	l.Say("else reads.")
	modes := []int{0o600, 0o644, 0o666}
	if !isShown(mode) {
		modes = append(modes, mode)
	}
	var ids []string
	for _, m := range modes {
		id, err := labelledSegment(l, m)
		if err != nil {
			return nil, err
		}
		ids = append(ids, strconv.Itoa(id))
	}
	if u, err := umask(); err == nil {
		l.Say("This process's umask is %04o, yet the modes are exactly as asked (were umask", u)
		l.Say("applied, 0666 would have become %04o): umask is for files, not System V objects.", 0o666&^u)
	}

	if os.Geteuid() != 0 {
		l.Say("To see another user refused, a process must start one as that user, which only")
		l.Say("root may do. You are uid %d, so this part is skipped. To see it:", os.Geteuid())
		l.Look("go build -o /tmp/02-shmget ./02-shmget && sudo /tmp/02-shmget; rm /tmp/02-shmget")
		explainYourMode(l, mode)
		return nil, nil
	}
	uid, gid := reexec.Nobody()
	args := append([]string{roleTry, key.String()}, ids...)
	cmd, err := reexec.CommandAs(uid, gid, args...)
	if err != nil {
		return nil, err
	}
	// CommandAs copied this program where nobody can run it; remove the copy on
	// every way out, Ctrl-C included.
	l.Cleanup("remove the copy of this program made for nobody", func() error { reexec.Cleanup(); return nil })
	l.Say("Root passes every check (CAP_IPC_OWNER), so a second process runs as nobody")
	l.Say("(uid %d). It opens the segment of step 3 (key %v, mode %04o) by its", uid, key, mode)
	l.Say("key, then tries to attach each segment above read-write and read-only")
	l.Say("(SHM_RDONLY):")
	l.Call("start: %s %s   (as uid %d, gid %d)", filepath.Base(cmd.Path), strings.Join(args, " "), uid, gid)
	nobody, err := lesson.StartChild(l, cmd)
	if err != nil {
		return nil, err
	}
	if _, err := nobody.Await(tellTried); err != nil {
		return nil, fmt.Errorf("the process running as nobody failed: %v", err)
	}
	l.Say("shmget checks only the permissions asked for in shmflg: with 0 it finds any")
	l.Say("segment, and the refusal comes at shmat. 0600: others have no bits, EACCES both")
	l.Say("ways. 0644: others may read, so only the SHM_RDONLY attach works. 0666: anyone")
	l.Say("on the machine may write, which is rarely what you want; prefer 0600 and share")
	l.Say("with other users on purpose.")
	explainYourMode(l, mode)
	return nobody, nil
}

// labelledSegment creates an IPC_PRIVATE segment with mode m for the permission
// step and writes into it what it is, so that whoever attaches it can say.
func labelledSegment(l *lesson.Lesson, m int) (int, error) {
	flg := unix.IPC_CREAT | m
	l.Call("%s; shmat; write its label; shmctl(IPC_STAT)", shmgetCall(ftok.Private, 64, flg))
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 64, flg)
	if err != nil {
		return 0, lesson.Failed(shmgetCall(ftok.Private, 64, flg), err, whyCreateFailed(err, 64))
	}
	removeSegment(l, id)
	b, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return 0, lesson.Failed(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, "")
	}
	write(b, fmt.Sprintf("segment %d, mode %04o", id, m))
	if err := unix.SysvShmDetach(b); err != nil {
		return 0, lesson.Failed(fmt.Sprintf("shmdt(%#x)", addr(b)), err, "")
	}
	var ds unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); err != nil {
		return 0, lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_STAT, &ds)", id), err, "")
	}
	l.Result("id %d: mode %04o (%s), owner uid %d", id, ds.Perm.Mode&0o777, rwx(int(ds.Perm.Mode)), ds.Perm.Uid)
	return id, nil
}

func outlive(l *lesson.Lesson, id int) {
	l.Step("Segments outlive their processes")
	l.Say("A segment stays until someone removes it with shmctl(IPC_RMID) or the machine")
	l.Say("reboots, even after every process that used it has exited (unless")
	l.Say("/proc/sys/kernel/shm_rmid_forced is 1, see proc(5)):")
	if os.Geteuid() == 0 {
		l.Say("the second process and the one that ran as nobody are gone, the segments they")
		l.Say("used are not. List segments and remove a leftover of yours:")
	} else {
		l.Say("the second process of the IPC_PRIVATE step has exited, its segment has not.")
		l.Say("List segments and remove a leftover of yours:")
	}
	l.Look("ipcs -m")
	l.Look("ipcrm -m %d", id)
	l.Say("This program removes everything it made as it ends (also on an error or Ctrl-C).")
	l.Say("Next: go run ./03-shmat, attaching a segment from two processes.")
}
