//go:build linux

// Command 03-shmat maps one System V shared memory segment into two processes:
// different addresses, the same bytes. It attaches read-only and faults on a write,
// counts attachments with shm_nattch, lays out a pointer-free header, and shows the
// errors shmat gives. Read README.md beside it; the Linux man page is shmop(2).
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

const name = "03-shmat"

const usage = `
usage: go run ./03-shmat [-step] [-size BYTES]
       go run ./03-shmat [-step] ID

shmat(2) maps a System V shared memory segment into the calling process
(Linux man page: shmop(2)).

Without ID: create a segment; attach it twice in this process and once in a
second process (addresses, shared bytes, shm_nattch); keep a pointer-free
header in it; attach it read-only and write (the fault recovered with
debug.SetPanicOnFault, and fatal without it); show EINVAL, SHM_RND and EACCES.
Everything it creates is removed, also on error and Ctrl-C.

With ID: attach that existing segment read-only, show where it landed and its
first bytes, and detach. The segment is not changed. (ipcs -m lists ids.)
`

func main() { lesson.Main(name, usage, run) }

func run(l *lesson.Lesson, args []string) error {
	// A second process is this program again, with its role as the first argument.
	if len(args) > 0 {
		if role, ok := roles[args[0]]; ok {
			return role(l, args[1:])
		}
	}
	size := l.Flags.Int("size", 4096, fmt.Sprintf("size of the segment in bytes (at least %d, room for the header and two messages)", minSize))
	if err := l.Parse(args); err != nil {
		return err
	}
	switch l.Flags.NArg() {
	case 0:
		if *size < minSize {
			return lesson.Usagef("-size %d is too small: the lesson's layout needs at least %d bytes", *size, minSize)
		}
		return tour(l, *size)
	case 1:
		id, err := parseID(l.Flags.Arg(0))
		if err != nil {
			return err
		}
		return peek(l, id)
	default:
		return lesson.Usagef("too many arguments %q: give at most one segment id", l.Flags.Args())
	}
}

// tour is the lesson: each function below is one or two numbered steps.
func tour(l *lesson.Lesson, size int) error {
	id, err := create(l, size, 0o600)
	if err != nil {
		return err
	}
	first, second, err := attachTwice(l, id)
	if err != nil {
		return err
	}
	if err := layOut(l, first); err != nil {
		return err
	}
	if err := shareWithChild(l, id, first, second); err != nil {
		return err
	}
	ro, err := readOnly(l, id, first)
	if err != nil {
		return err
	}
	if err := faultWithoutRecover(l, id); err != nil {
		return err
	}
	if err := addressErrors(l, id, ro); err != nil {
		return err
	}
	if err := permissions(l, id); err != nil {
		return err
	}
	return detachAll(l, id, first, second)
}

// create makes the segment the lesson attaches (lesson 02 is about shmget).
func create(l *lesson.Lesson, size, mode int) (int, error) {
	l.Step("Create a segment to attach (lesson 02)")
	call := fmt.Sprintf("shmget(IPC_PRIVATE, %d, IPC_CREAT|IPC_EXCL|%#o)", size, mode)
	l.Call("%s", call)
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, size, unix.IPC_CREAT|unix.IPC_EXCL|mode)
	if err != nil {
		return 0, lesson.Failed(call, err, whyShmget(err))
	}
	l.Cleanup(fmt.Sprintf("remove segment %d", id), func() error { return removeIfThere(id) })
	l.Result("id %d", id)
	l.Say("The segment belongs to the kernel, not to this process. Any number of processes")
	l.Say("may attach it, the creator included, each mapping it into its own address space.")
	l.Look("ipcs -m -i %d", id)
	return id, nil
}

// attachTwice attaches the segment twice in this process: two addresses, one segment.
func attachTwice(l *lesson.Lesson, id int) (first, second []byte, err error) {
	l.Step("Attach it: shmat(id, NULL, 0)")
	if first, err = attach(l, id, 0); err != nil {
		return nil, nil, err
	}
	l.Result("mapped at %#x, a []byte of %d bytes", addr(first), len(first))
	l.Say("C's shmat returns a void *, and (void *)-1 with errno on failure. x/sys/unix's")
	l.Say("SysvShmAttach returns a []byte over the mapping (len = the segment's size) and an error.")
	l.Say("NULL (0 in Go) lets the kernel pick a free page-aligned address: the portable choice.")
	l.Result("/proc/self/maps: %s", mapsLine(addr(first)))
	l.Say("rw-s: read, write, shared. SYSV00000000 is the key (0: IPC_PRIVATE); the inode column is the id.")
	if err := sayNattch(l, id, "one attachment"); err != nil {
		return nil, nil, err
	}
	l.Look("grep SYSV /proc/%d/maps", os.Getpid())

	l.Step("Attach the same segment a second time, in the same process")
	if second, err = attach(l, id, 0); err != nil {
		return nil, nil, err
	}
	l.Result("mapped at %#x (the first attachment is at %#x)", addr(second), addr(first))
	if err := sayNattch(l, id, "counts attachments, not processes: one process, two attachments"); err != nil {
		return nil, nil, err
	}
	greeting := "written through the first address"
	copy(first, greeting)
	l.Call("copy(first, %q); then read second[:%d]", greeting, len(greeting))
	l.Result("%q", second[:len(greeting)])
	l.Say("Two virtual addresses, one set of physical pages: a write through one is there")
	l.Say("at once through the other. Nothing was copied.")
	clear(first[:len(greeting)])
	return first, second, nil
}

// layOut writes the lesson's header and message into the segment.
func layOut(l *lesson.Lesson, b []byte) error {
	l.Step("Lay out the segment: a pointer-free header, offsets instead of addresses")
	msg := fmt.Sprintf("hello from pid %d", os.Getpid())
	h, err := writeMessage(b, msg)
	if err != nil {
		return err
	}
	l.Call("header at offset 0, %d bytes: Magic@%d Version@%d Writes@%d MsgOff@%d MsgLen@%d ReplyOff@%d ReplyLen@%d",
		headerSize, unsafe.Offsetof(h.Magic), unsafe.Offsetof(h.Version), unsafe.Offsetof(h.Writes),
		unsafe.Offsetof(h.MsgOff), unsafe.Offsetof(h.MsgLen), unsafe.Offsetof(h.ReplyOff), unsafe.Offsetof(h.ReplyLen))
	l.Result("magic %#x, version %d; message %q at offset %d; reply to go at offset %d",
		h.Magic, h.Version, message(b, h), h.MsgOff, h.ReplyOff)
	l.Say("Only fixed-width numbers: no pointer, string, slice, map or interface (they mean")
	l.Say("nothing in another process, and the garbage collector does not look in here), and")
	l.Say("no sync.Mutex (its waiters sleep in one process's Go runtime). Writes, used with")
	l.Say("sync/atomic, is 8 bytes at offset 8. The message is found by its offset: the other")
	l.Say("process maps the segment at its own address, so an address stored here would be wrong there.")
	l.Look("od -A d -c -N %d /proc/%d/map_files/%s    (as root: the segment's bytes from outside)",
		minSize, os.Getpid(), mapsRange(addr(b)))
	return nil
}

// shareWithChild starts this program again as a second process that attaches by id.
func shareWithChild(l *lesson.Lesson, id int, first, second []byte) error {
	l.Step("A second process attaches the same segment")
	cmd, err := reexec.Command(roleAttacher, strconv.Itoa(id))
	if err != nil {
		return err
	}
	l.Call("%s %s %d    (this program again; the id goes on its command line)", name, roleAttacher, id)
	l.Say("Go cannot fork without exec, so the child inherits no attachment: it attaches by id.")
	p, err := lesson.StartChild(l, cmd)
	if err != nil {
		return err
	}
	line, err := p.Until("mapped at")
	if err != nil {
		return err
	}
	childAddr, err := addressIn(line)
	if err != nil {
		return err
	}
	if _, err := p.Until("staying attached"); err != nil {
		return err
	}
	if err := sayNattch(l, id, "three attachments, two processes"); err != nil {
		return err
	}
	h, err := headerIn(first)
	if err != nil {
		return err
	}
	got, want := reply(first, h), fmt.Sprintf("hello back from pid %d", p.Pid)
	if got != want {
		return fmt.Errorf("the child's reply should read %q, the segment holds %q", want, got)
	}
	l.Result("reply read through %#x: %q (Writes is now %d)", addr(first), got, atomic.LoadUint64(&h.Writes))
	sayAddresses(l, childAddr, addr(first), addr(second))
	l.Look("ipcs -m -p    (cpid is this process, lpid the last to attach or detach)")
	if err := p.Finish(); err != nil {
		return fmt.Errorf("the child (pid %d): %w", p.Pid, err)
	}
	return sayNattch(l, id, "the child detached and exited")
}

// sayAddresses compares the child's address with ours, honestly: different is
// usual, the same is allowed.
func sayAddresses(l *lesson.Lesson, child, first, second uintptr) {
	if child != first && child != second {
		l.Result("the child mapped it at %#x, we at %#x and %#x: different addresses, the same bytes", child, first, second)
		l.Say("Each process has its own address space; the kernel picks a free range in each.")
		l.Say("With address space layout randomisation (/proc/sys/kernel/randomize_va_space) the")
		l.Say("ranges differ from run to run and process to process.")
		return
	}
	l.Result("the child mapped it at %#x, the same address as ours: allowed", child)
	l.Say("Nothing promises different addresses, nor equal ones. Without address space layout")
	l.Say("randomisation (setarch -R, or randomize_va_space 0) two runs of one program often")
	l.Say("get the same one. Never count on either: store offsets.")
}

// readOnly attaches with SHM_RDONLY and writes through it, recovering the fault.
func readOnly(l *lesson.Lesson, id int, first []byte) ([]byte, error) {
	l.Step("Attach read-only (SHM_RDONLY) and write through it")
	ro, err := attach(l, id, unix.SHM_RDONLY)
	if err != nil {
		return nil, err
	}
	l.Result("mapped at %#x; /proc/self/maps: %s", addr(ro), mapsLine(addr(ro)))
	h, err := headerIn(ro)
	if err != nil {
		return nil, err
	}
	l.Result("reading works: message %q", message(ro, h))
	l.Say("r--s: the page tables allow reads only. SHM_RDONLY needs read permission on the")
	l.Say("segment; without it shmat needs read and write. There is no write-only attach.")
	l.Say("Go cannot tell: SysvShmAttach returns a []byte either way.")
	l.Call("debug.SetPanicOnFault(true); ro[0] = 'X'")
	err = lesson.RecoverFault(func() { ro[0] = 'X' })
	var fault *lesson.FaultError
	if !errors.As(err, &fault) {
		return nil, fmt.Errorf("a write through the read-only attachment did not fault (%v)", err)
	}
	l.Result("recovered a panic: %v, at %#x%s", fault.Msg, fault.Addr, sameAddr(fault.Addr, addr(ro), "the read-only mapping's start"))
	l.Result("the byte is still %#x, the magic's first byte", first[0])
	l.Say("The CPU refused the write and the kernel sent SIGSEGV (code SEGV_ACCERR). With")
	l.Say("SetPanicOnFault(true) the Go runtime turns that fault into a panic this goroutine")
	l.Say("can recover. It covers only the calling goroutine; restore it afterwards.")
	return ro, sayNattch(l, id, "two read-write attachments and one read-only")
}

// faultWithoutRecover runs the same write in a child that did not ask for a panic.
func faultWithoutRecover(l *lesson.Lesson, id int) error {
	l.Step("The same write without SetPanicOnFault, in a child process")
	cmd, err := reexec.Command(roleReadOnlyWriter, strconv.Itoa(id))
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	l.Call("%s %s %d    (attaches SHM_RDONLY and writes)", name, roleReadOnlyWriter, id)
	p, err := lesson.StartChild(l, cmd)
	if err != nil {
		return err
	}
	err = p.Finish()
	var exit *lesson.ExitError
	if !errors.As(err, &exit) || exit.Status != 2 {
		return fmt.Errorf("the child should have died with exit status 2, got %v", err)
	}
	l.Result("the child died: exit status %d. The first lines of its stderr:", exit.Status)
	for _, line := range firstLines(stderr.String(), 3) {
		l.Say("| %s", line)
	}
	l.Say("An unexpected fault is fatal in Go: the runtime prints the fault address, 'fatal")
	l.Say("error: fault' and every goroutine's stack, and exits with status 2. recover()")
	l.Say("cannot catch it; only SetPanicOnFault, set before the fault, turns it into a panic.")
	return sayNattch(l, id, "the dead child's attachment went with it")
}

// addressErrors shows the EINVALs and SHM_RND.
func addressErrors(l *lesson.Lesson, id int, ro []byte) error {
	l.Step("When shmat cannot attach: EINVAL (and where EIDRM would come from)")
	gone, err := removedID()
	if err != nil {
		return err
	}
	tryAttach(l, gone, 0, 0, fmt.Sprintf("segment %d was created and removed just now", gone))
	l.Say("EINVAL, not EIDRM: the id names no segment now. EIDRM is for a segment being")
	l.Say("destroyed at the very moment shmat finds it: a race, not something to reproduce.")

	at := addr(ro) + 123
	tryAttach(l, id, at, 0, "an address that is not page-aligned")
	tryAttach(l, id, at, unix.SHM_RND, fmt.Sprintf("SHM_RND rounds it down to %#x, where the read-only attachment is", addr(ro)))

	l.Call("shmdt(%#x)    (free that range: lesson 04)", addr(ro))
	if err := unix.SysvShmDetach(ro); err != nil {
		return lesson.Failed(fmt.Sprintf("shmdt(%#x)", addr(ro)), err, "")
	}
	l.Call("shmat(%d, %#x, SHM_RND)", id, at)
	b, err := unix.SysvShmAttach(id, at, unix.SHM_RND)
	if err != nil {
		return lesson.Failed(fmt.Sprintf("shmat(%d, %#x, SHM_RND)", id, at), err, "another mapping took the range in between; run the lesson again")
	}
	l.Result("mapped at %#x: %#x rounded down to a multiple of SHMLBA (the page size on x86-64)", addr(b), at)
	l.Say("Choosing the address yourself is rarely useful and not portable; pass NULL.")
	if err := unix.SysvShmDetach(b); err != nil {
		return lesson.Failed(fmt.Sprintf("shmdt(%#x)", addr(b)), err, "")
	}
	return nil
}

// sameAddr says how the address a fault reported compares with the one the lesson
// touched: runtime/debug calls Addr best-effort, so the lesson checks before it says so.
func sameAddr(got, want uintptr, what string) string {
	if got == want {
		return " = " + what
	}
	return fmt.Sprintf(", not %#x (%s): Addr is best-effort", want, what)
}

// tryAttach makes an attach that is expected to fail and prints the errno.
func tryAttach(l *lesson.Lesson, id int, at uintptr, flags int, why string) {
	l.Call("shmat(%d, %s, %s)    (%s)", id, addrName(at), flagNames(flags), why)
	b, err := unix.SysvShmAttach(id, at, flags)
	if err != nil {
		l.Result("%s", lesson.ErrnoText(err))
		return
	}
	l.Result("mapped at %#x (and detached again)", addr(b))
	_ = unix.SysvShmDetach(b)
}

// removedID creates a segment and removes it, for an id that names nothing.
func removedID() (int, error) {
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		return 0, lesson.Failed("shmget(IPC_PRIVATE, 4096, IPC_CREAT|IPC_EXCL|0600)", err, whyShmget(err))
	}
	return id, remove(id)
}

// permissions shows EACCES: as root with a child running as nobody, otherwise with
// a segment of our own that we may only read.
func permissions(l *lesson.Lesson, id int) error {
	l.Step("Permission: EACCES")
	if os.Geteuid() != 0 {
		return ownReadOnlySegment(l)
	}
	open, err := createQuietly(l, 0o644)
	if err != nil {
		return err
	}
	uid, gid := reexec.Nobody()
	cmd, err := reexec.CommandAs(uid, gid, roleOtherUser, strconv.Itoa(id), strconv.Itoa(open))
	if err != nil {
		return err
	}
	defer reexec.Cleanup()
	l.Say("Root passes every check (CAP_IPC_OWNER), so a child running as nobody (uid %d) tries:", uid)
	l.Say("segment %d has mode 0600, segment %d mode 0644.", id, open)
	p, err := lesson.StartChild(l, cmd)
	if err != nil {
		return err
	}
	if err := p.Finish(); err != nil {
		return fmt.Errorf("the child running as nobody: %w", err)
	}
	l.Say("The bits of the class that applies to you count: owner if you own it, else group,")
	l.Say("else other. SHM_RDONLY needs read; read-write needs read and write.")
	return nil
}

// ownReadOnlySegment shows EACCES without root: our own segment with mode 0400.
func ownReadOnlySegment(l *lesson.Lesson) error {
	id, err := createQuietly(l, 0o400)
	if err != nil {
		return err
	}
	l.Say("Segment %d is ours, with mode 0400: the owner may read, nobody may write.", id)
	tryAttach(l, id, 0, unix.SHM_RDONLY, "read-only: allowed")
	tryAttach(l, id, 0, 0, "read-write: refused")
	l.Say("Run as root and root passes every check (CAP_IPC_OWNER); the lesson then starts a")
	l.Say("child as the user nobody instead. To see it: go build -o /tmp/03-shmat ./03-shmat && sudo /tmp/03-shmat")
	return nil
}

// createQuietly creates a small extra segment with mode and registers its removal.
func createQuietly(l *lesson.Lesson, mode int) (int, error) {
	call := fmt.Sprintf("shmget(IPC_PRIVATE, 4096, IPC_CREAT|IPC_EXCL|%#o)", mode)
	l.Call("%s", call)
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|unix.IPC_EXCL|mode)
	if err != nil {
		return 0, lesson.Failed(call, err, whyShmget(err))
	}
	l.Cleanup(fmt.Sprintf("remove segment %d", id), func() error { return remove(id) })
	l.Result("id %d", id)
	return id, nil
}

// detachAll ends the lesson: detach both attachments (lesson 04) and remove.
func detachAll(l *lesson.Lesson, id int, attachments ...[]byte) error {
	l.Step("Detach (lesson 04) and remove (lesson 05)")
	for _, b := range attachments {
		l.Call("shmdt(%#x)", addr(b))
		if err := unix.SysvShmDetach(b); err != nil {
			return lesson.Failed(fmt.Sprintf("shmdt(%#x)", addr(b)), err, "")
		}
	}
	if err := sayNattch(l, id, "nothing attached; the segment still exists until IPC_RMID"); err != nil {
		return err
	}
	l.Call("shmctl(%d, IPC_RMID, NULL)", id)
	if err := remove(id); err != nil {
		return lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_RMID, NULL)", id), err, "")
	}
	l.Result("removed. (The same removal is registered as a cleanup, for an error or Ctrl-C.)")
	return nil
}

// peek attaches an existing segment read-only and shows its first bytes.
func peek(l *lesson.Lesson, id int) error {
	l.Step("Attach segment %d read-only", id)
	b, err := attach(l, id, unix.SHM_RDONLY)
	if err != nil {
		return err
	}
	l.Result("mapped at %#x, %d bytes", addr(b), len(b))
	if err := sayNattch(l, id, "ours included"); err != nil {
		return err
	}
	l.Step("Read its first bytes")
	for _, line := range firstLines(hexDump(b, 64), 4) {
		l.Say("%s", line)
	}
	l.Step("Detach")
	l.Call("shmdt(%#x)", addr(b))
	if err := unix.SysvShmDetach(b); err != nil {
		return lesson.Failed(fmt.Sprintf("shmdt(%#x)", addr(b)), err, "")
	}
	return sayNattch(l, id, "ours is gone")
}

// attach is shmat(id, NULL, flags) with the lesson's error message.
func attach(l *lesson.Lesson, id, flags int) ([]byte, error) {
	l.Call("shmat(%d, NULL, %s)", id, flagNames(flags))
	b, err := unix.SysvShmAttach(id, 0, flags)
	if err != nil {
		return nil, lesson.Failed(fmt.Sprintf("shmat(%d, NULL, %s)", id, flagNames(flags)), err, whyShmat(err, id))
	}
	return b, nil
}

// sayNattch prints shm_nattch from IPC_STAT, with a note on why it is what it is.
func sayNattch(l *lesson.Lesson, id int, note string) error {
	var ds unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); err != nil {
		return lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_STAT)", id), err, "")
	}
	l.Result("shm_nattch %d: %s", ds.Nattch, note)
	return nil
}

func remove(id int) error {
	_, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	return err
}

// removeIfThere is the cleanup: the lesson may have removed the segment already.
func removeIfThere(id int) error {
	if err := remove(id); err != nil && !errors.Is(err, unix.EINVAL) {
		return err
	}
	return nil
}

// addr is the address of the first byte of an attachment.
func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// mapsLine returns this process's /proc/self/maps line for the mapping at a.
func mapsLine(a uintptr) string {
	line := findMapping(a)
	if line == "" {
		return "(not found)"
	}
	return line
}

// mapsRange returns the START-END of the mapping at a, as /proc/PID/map_files names it.
func mapsRange(a uintptr) string {
	start, _, _ := strings.Cut(findMapping(a), " ")
	return start
}

// findMapping returns the /proc/self/maps line of the mapping that starts at a.
func findMapping(a uintptr) string {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return ""
	}
	prefix := fmt.Sprintf("%x-", a)
	for _, line := range strings.Split(string(maps), "\n") {
		if strings.HasPrefix(line, prefix) {
			return strings.Join(strings.Fields(line), " ")
		}
	}
	return ""
}

// addrName spells an attach address as C would: NULL or hex.
func addrName(at uintptr) string {
	if at == 0 {
		return "NULL"
	}
	return fmt.Sprintf("%#x", at)
}

func flagNames(flags int) string {
	var names []string
	for _, f := range []struct {
		bit  int
		name string
	}{{unix.SHM_RDONLY, "SHM_RDONLY"}, {unix.SHM_RND, "SHM_RND"}} {
		if flags&f.bit != 0 {
			names = append(names, f.name)
		}
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
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

// addressIn finds the 0x... address in a line the child printed.
func addressIn(line string) (uintptr, error) {
	for _, field := range strings.Fields(line) {
		field = strings.TrimRight(field, ",;:")
		if strings.HasPrefix(field, "0x") {
			v, err := strconv.ParseUint(field[2:], 16, 64)
			if err == nil {
				return uintptr(v), nil
			}
		}
	}
	return 0, fmt.Errorf("no address in the child's line %q", line)
}

func firstLines(s string, n int) []string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return lines
}

// hexDump formats the first n bytes of b like hexdump -C.
func hexDump(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	var out strings.Builder
	for off := 0; off < len(b); off += 16 {
		row := b[off:min(off+16, len(b))]
		fmt.Fprintf(&out, "%04x  % x  %s\n", off, row, printable(row))
	}
	return out.String()
}

func printable(b []byte) string {
	p := []byte(string(b))
	for i, c := range p {
		if c < 0x20 || c > 0x7e {
			p[i] = '.'
		}
	}
	return string(p)
}

// whyShmat explains an errno of shmat(2).
func whyShmat(err error, id int) string {
	switch {
	case errors.Is(err, unix.EINVAL):
		return fmt.Sprintf("no segment has id %d (ipcs -m lists them; a removed segment's id names nothing)", id)
	case errors.Is(err, unix.EACCES):
		return "the segment's mode does not let you read it (SHM_RDONLY) or read and write it (ipcs -m -i ID shows the mode)"
	case errors.Is(err, unix.EIDRM):
		return "the segment was being destroyed at that moment"
	case errors.Is(err, unix.ENOMEM):
		return "no room left in this process's address space"
	}
	return ""
}

// whyShmget explains the errnos creating a segment can give.
func whyShmget(err error) string {
	switch {
	case errors.Is(err, unix.EINVAL):
		return "the size is outside SHMMIN..SHMMAX (cat /proc/sys/kernel/shmmax)"
	case errors.Is(err, unix.ENOSPC):
		return "the system's segment count (shmmni) or total size (shmall) is used up: ipcs -m -u"
	case errors.Is(err, unix.ENOMEM):
		return "not enough memory for a segment this size"
	}
	return ""
}
