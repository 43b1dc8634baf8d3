//go:build linux

// Command 02-shmget shows how shmget(2) creates a System V shared memory segment
// or finds an existing one, and every way it says no.
//
//	C:  int shmget(key_t key, size_t size, int shmflg);
//	Go: id, err := unix.SysvShmGet(key, size, flag)
//
// The program creates a segment from an ftok key with IPC_CREAT|IPC_EXCL, meets
// EEXIST, ENOENT and EINVAL for real, compares the size asked for with the pages
// allocated, hands an IPC_PRIVATE segment to a second process by its id, and, run
// as root, starts a process as the user nobody to show the permission bits at work.
// Everything it creates it removes, however it ends.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

const name = "02-shmget"

const usage = `usage: go run ./02-shmget [-step] [-size BYTES] [-mode OCTAL]

Creates a System V shared memory segment with shmget(2) and shows: IPC_CREAT|IPC_EXCL
and EEXIST, opening with size 0, ENOENT without IPC_CREAT, EINVAL for size 0 and for
a size larger than the segment, the size asked for against the pages allocated, a
zero-filled new segment, an IPC_PRIVATE segment used by a second process that was
given its id, and the permission bits tested by a process running as nobody (needs
root). Everything created is removed at the end, also on error or Ctrl-C.`

func main() { lesson.Main(name, usage, run) }

// Roles of the second process (this program run again; Go cannot fork).
const (
	roleAttach = "child-attach" // child-attach ID: attach a segment by id, read it, answer
	roleTry    = "child-try"    // child-try KEY ID...: open KEY, then try to attach each segment read-write and read-only
)

// maxSize caps -size: the lesson reads every byte of the segment it creates, and
// it should stay harmless on a shared machine. The kernel's own limit is SHMMAX.
const maxSize = 64 << 20

func run(l *lesson.Lesson, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case roleAttach:
			return childAttach(l, args[1:])
		case roleTry:
			return childTry(l, args[1:])
		}
	}
	size := l.Flags.Int("size", 100, "segment size in bytes, 1 to 64 MiB (0 shows EINVAL); the kernel allocates whole pages")
	modeFlag := l.Flags.String("mode", "0600", "permission bits of the segment, octal, at most 0777; the owner digit needs 6 (read, write) without CAP_IPC_OWNER (root has it)")
	if err := l.Parse(args); err != nil {
		return err
	}
	if l.Flags.NArg() > 0 {
		return lesson.Usagef("unexpected argument %q: this lesson takes only flags", l.Flags.Arg(0))
	}
	mode, err := parseMode(*modeFlag)
	if err != nil {
		return err
	}
	if err := checkOwnerBits(mode); err != nil {
		return err
	}
	if *size < 0 || *size > maxSize {
		return lesson.Usagef("-size %d: give 1 to %d bytes (0 to see shmget refuse it with EINVAL)", *size, maxSize)
	}

	limits(l)
	key, keyFile, err := makeKey(l)
	if err != nil {
		return err
	}
	id, err := create(l, key, *size, mode)
	if err != nil {
		return err
	}
	if err := createAgain(l, key, *size, mode, id); err != nil {
		return err
	}
	if err := open(l, key, *size, id); err != nil {
		return err
	}
	if err := missing(l, keyFile, mode); err != nil {
		return err
	}
	b, err := sizes(l, id, *size)
	if err != nil {
		return err
	}
	zeroFilled(l, b)
	if err := private(l, *size); err != nil {
		return err
	}
	if err := permissions(l, key, mode); err != nil {
		return err
	}
	outlive(l, id)
	return nil
}

// parseMode reads -mode: octal permission bits, at most 0777.
func parseMode(s string) (int, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	if err != nil {
		return 0, lesson.Usagef("-mode %q is not an octal number: give permission bits such as 0600 or 0644", s)
	}
	if v > 0o777 {
		return 0, lesson.Usagef("-mode %s is more than 0777: only the 9 permission bits (owner, group, others; read 4, write 2, execute 1) go here, the program adds IPC_CREAT and IPC_EXCL itself", s)
	}
	return int(v), nil
}

// checkOwnerBits refuses a -mode that would lock this program out of its own
// segments. The owner digit binds the owner too: the read-write shmat of steps 7
// and 10 needs the owner's read and write, shmctl(IPC_STAT) needs read. Only
// CAP_IPC_OWNER, which root has, skips the check (shmop(2), capabilities(7)).
func checkOwnerBits(mode int) error {
	if mode&0o600 == 0o600 || hasCapIPCOwner() {
		return nil
	}
	return lesson.Usagef("-mode %04o gives the owner only %s, and the owner is you: shmat read-write needs the owner's read and write, shmctl(IPC_STAT) needs read, so this program's own calls would fail with EACCES (only CAP_IPC_OWNER, which root has, skips the check); give the owner 6, e.g. -mode %04o",
		mode, rwx(mode)[:3], mode|0o600)
}

// flagString spells shmflg as C code would: IPC_CREAT|IPC_EXCL|0600.
func flagString(flg int) string {
	var parts []string
	if flg&unix.IPC_CREAT != 0 {
		parts = append(parts, "IPC_CREAT")
	}
	if flg&unix.IPC_EXCL != 0 {
		parts = append(parts, "IPC_EXCL")
	}
	if perm := flg & 0o777; perm != 0 {
		parts = append(parts, fmt.Sprintf("%04o", perm))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}

// shmgetCall spells the call as C would.
func shmgetCall(key ftok.Key, size, flg int) string {
	k := key.String()
	if key == ftok.Private {
		k = "IPC_PRIVATE"
	}
	return fmt.Sprintf("shmget(%s, %d, %s)", k, size, flagString(flg))
}

// shmget calls shmget(2) and narrates the call.
func shmget(l *lesson.Lesson, key ftok.Key, size, flg int) (int, error) {
	l.Call("%s", shmgetCall(key, size, flg))
	return unix.SysvShmGet(int(key), size, flg)
}

// removeSegment registers the IPC_RMID that removes segment id when the lesson ends.
func removeSegment(l *lesson.Lesson, id int) {
	l.Cleanup(fmt.Sprintf("remove segment %d", id), func() error {
		_, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		return err
	})
}

// attach attaches segment id and registers its detach.
func attach(l *lesson.Lesson, id, flags int) ([]byte, error) {
	b, err := unix.SysvShmAttach(id, 0, flags)
	if err != nil {
		return nil, lesson.Failed(fmt.Sprintf("shmat(%d, NULL, %d)", id, flags), err, "")
	}
	l.Cleanup(fmt.Sprintf("detach segment %d", id), func() error { return unix.SysvShmDetach(b) })
	return b, nil
}

func stat(id int) (unix.SysvShmDesc, error) {
	var ds unix.SysvShmDesc
	_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
	return ds, err
}

// readSysctl reads one number from /proc/sys/kernel.
func readSysctl(name string) (uint64, error) {
	b, err := os.ReadFile("/proc/sys/kernel/" + name)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
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
		v, err := readSysctl(lim.name)
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
	l.Look("cat /proc/sys/kernel/shmmax /proc/sys/kernel/shmall /proc/sys/kernel/shmmni   # or: ipcs -m -l")
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
		// Only possible with CAP_IPC_OWNER: checkOwnerBits refused it otherwise.
		l.Say("%04o gives the owner only %s, yet this program, the owner, attaches it", mode, rwx(mode)[:3])
		l.Say("read-write in step 7: it has CAP_IPC_OWNER, as root does, which skips the")
		l.Say("check. Without it, shmat would fail with EACCES, so the program refuses this")
		l.Say("-mode up front.")
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
		return "the size is above SHMMAX (cat /proc/sys/kernel/shmmax)"
	case errors.Is(err, unix.EEXIST):
		return "a segment with this key exists already (ipcs -m; remove a leftover of yours with ipcrm -m ID)"
	case errors.Is(err, unix.ENOSPC):
		return "all SHMMNI segment ids are taken, or the segment would pass SHMALL pages in total (ipcs -m -l)"
	case errors.Is(err, unix.ENOMEM):
		return "the kernel could not allocate memory for the segment"
	}
	return ""
}

// rwx spells permission bits as ls does: 0644 is rw-r--r--.
func rwx(mode int) string {
	const letters = "rwxrwxrwx"
	b := []byte("---------")
	for i := range b {
		if mode&(1<<(8-i)) != 0 {
			b[i] = letters[i]
		}
	}
	return string(b)
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
	if err != nil {
		return lesson.Failed(shmgetCall(key, size, flg), err, "")
	}
	l.Result("id %d: IPC_CREAT without IPC_EXCL opens the segment that exists (same id)", got)
	if got != id {
		return fmt.Errorf("IPC_CREAT gave id %d, not the existing %d", got, id)
	}
	return nil
}

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
	l.Say("the kernel allocated a whole page (next steps): it compares with the size the")
	l.Say("segment was created with.")
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

func sizes(l *lesson.Lesson, id, size int) ([]byte, error) {
	l.Step("The size asked for, and the memory allocated")
	ds, err := stat(id)
	if err != nil {
		return nil, lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_STAT, &ds)", id), err, "")
	}
	l.Call("shmctl(%d, IPC_STAT, &ds)", id)
	l.Result("ds.shm_segsz = %d: the size asked for, which ipcs shows as bytes", ds.Segsz)
	l.Look("ipcs -m -i %d    # or: grep -w %d /proc/sysvipc/shm (size column)", id, id)

	l.Call("shmat(%d, NULL, 0)", id)
	b, err := attach(l, id, 0)
	if err != nil {
		return nil, err
	}
	addr := uintptr(unsafe.Pointer(&b[0]))
	l.Result("attached at %#x; Go's slice has len %d", addr, len(b))

	page := os.Getpagesize()
	pages := (size + page - 1) / page
	mapped, line, err := mappingSize(addr)
	if err != nil {
		l.Result("could not read /proc/self/maps: %v", err)
	} else {
		l.Result("/proc/self/maps: %s", line)
		l.Result("the mapping is %d bytes: %d page(s) of %d", mapped, mapped/uint64(page), page)
	}
	l.Say("Memory comes in pages, so %d bytes take %d page(s) = %d bytes; the rest of the", size, pages, pages*page)
	l.Say("last page is allocated too, but shm_segsz and Go's slice keep to %d bytes. Asking", size)
	l.Say("for a multiple of the page size (%d) wastes nothing.", page)
	l.Look("grep SYSV /proc/%d/maps    # while the segment is attached (-step pauses here)", os.Getpid())
	return b, nil
}

// mappingSize finds the line of /proc/self/maps that starts at addr and returns
// the mapping's length and the line.
func mappingSize(addr uintptr) (uint64, string, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	prefix := fmt.Sprintf("%x-", addr)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		bounds := strings.SplitN(strings.Fields(line)[0], "-", 2)
		start, err1 := strconv.ParseUint(bounds[0], 16, 64)
		end, err2 := strconv.ParseUint(bounds[1], 16, 64)
		if err1 != nil || err2 != nil {
			return 0, "", fmt.Errorf("cannot parse %q", line)
		}
		return end - start, strings.Join(strings.Fields(line), " "), nil
	}
	if err := sc.Err(); err != nil {
		return 0, "", err
	}
	return 0, "", fmt.Errorf("no mapping at %#x", addr)
}

func zeroFilled(l *lesson.Lesson, b []byte) {
	l.Step("A new segment is zero-filled")
	nonzero := len(b) - bytes.Count(b, []byte{0})
	l.Result("%d of its %d bytes are not zero", nonzero, len(b))
	l.Say("The kernel clears a segment's memory before anyone can see it, so no process")
	l.Say("reads what another left in that memory. A zero can therefore mean \"not yet")
	l.Say("initialised\" to a process that opens the segment.")
}

// message is what a process writes into a segment: text ending in a NUL byte.
func message(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func write(b []byte, s string) {
	n := copy(b, s)
	if n < len(b) {
		b[n] = 0
	}
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

	b, err := attach(l, id, 0)
	if err != nil {
		return err
	}
	sent := fmt.Sprintf("hello from pid %d", os.Getpid())
	write(b, sent)
	l.Result("wrote %q into segment %d", sent, id)

	cmd, err := reexec.Command(roleAttach, strconv.Itoa(id))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = l.Out, l.Err
	l.Call("start: %s %s %d   (this program again, as a separate process)", filepath.Base(cmd.Path), roleAttach, id)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("the second process failed: %v", err)
	}
	l.Result("segment %d now holds %q", id, message(b))
	return nil
}

// childAttach is the second process of the IPC_PRIVATE step: it attaches the
// segment whose id it was given, reads it and answers.
func childAttach(l *lesson.Lesson, args []string) error {
	if len(args) != 1 {
		return lesson.Usagef("usage: %s ID", roleAttach)
	}
	id, err := strconv.Atoi(args[0])
	if err != nil {
		return lesson.Usagef("%s: segment id %q is not a number", roleAttach, args[0])
	}
	who := fmt.Sprintf("[pid %d]", os.Getpid())
	b, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return lesson.Failed(fmt.Sprintf("%s shmat(%d, NULL, 0)", who, id), err, "")
	}
	defer unix.SysvShmDetach(b)
	l.Result("%s shmat(%d, NULL, 0) = %#x, read %q", who, id, uintptr(unsafe.Pointer(&b[0])), message(b))
	reply := fmt.Sprintf("hello back from pid %d", os.Getpid())
	write(b, reply)
	l.Result("%s wrote %q", who, reply)
	return nil
}

// statusField returns the value of the line "name:\tvalue" of /proc/self/status
// (proc(5)), where the kernel shows this process's credentials and more.
func statusField(name string) (string, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no %s line in /proc/self/status", name)
}

// umask reads this process's umask from /proc/self/status (Linux 4.7 and later),
// which, unlike umask(2), does not change it to read it.
func umask() (int, error) {
	v, err := statusField("Umask")
	if err != nil {
		return 0, err
	}
	m, err := strconv.ParseUint(v, 8, 32)
	return int(m), err
}

// hasCapIPCOwner reports whether this process has CAP_IPC_OWNER, the capability
// that skips System V permission checks: bit 15 of the effective set, CapEff in
// /proc/self/status (capabilities(7)). Root has it, unless a container dropped it.
func hasCapIPCOwner() bool {
	v, err := statusField("CapEff")
	if err != nil {
		return false
	}
	caps, err := strconv.ParseUint(v, 16, 64)
	return err == nil && caps&(1<<unix.CAP_IPC_OWNER) != 0
}

func permissions(l *lesson.Lesson, key ftok.Key, mode int) error {
	l.Step("Permission bits, tested by another user")
	l.Say("Each octal digit is one class, owner/group/others: read 4 + write 2 + execute 1")
	l.Say("(unused for shared memory). 6 = 4+2 is read and write; 7 = 4+2+1 would add")
	l.Say("execute. So 0644 is rw-r--r--: the owner reads and writes, everyone else reads.")
	modes := []int{0o600, 0o644, 0o666}
	if mode != 0o600 && mode != 0o644 && mode != 0o666 {
		modes = append(modes, mode)
	}
	var ids []string
	for _, m := range modes {
		flg := unix.IPC_CREAT | m
		id, err := shmget(l, ftok.Private, 64, flg)
		if err != nil {
			return lesson.Failed(shmgetCall(ftok.Private, 64, flg), err, whyCreateFailed(err, 64))
		}
		removeSegment(l, id)
		b, err := attach(l, id, 0)
		if err != nil {
			return err
		}
		write(b, fmt.Sprintf("segment %d, mode %04o", id, m))
		ds, err := stat(id)
		if err != nil {
			return lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_STAT, &ds)", id), err, "")
		}
		l.Result("id %d: mode %04o (%s), owner uid %d", id, ds.Perm.Mode&0o777, rwx(int(ds.Perm.Mode)), ds.Perm.Uid)
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
		return nil
	}
	uid, gid := reexec.Nobody()
	args := append([]string{roleTry, key.String()}, ids...)
	cmd, err := reexec.CommandAs(uid, gid, args...)
	if err != nil {
		return err
	}
	// CommandAs copied this program where nobody can run it; remove the copy on
	// every way out, Ctrl-C included.
	l.Cleanup("remove the copy of this program made for nobody", func() error { reexec.Cleanup(); return nil })
	cmd.Stdout, cmd.Stderr = l.Out, l.Err
	l.Say("Root passes every check (CAP_IPC_OWNER), so a second process runs as nobody")
	l.Say("(uid %d). It opens the segment of step 3 (key %v, mode %04o) by its", uid, key, mode)
	l.Say("key, then tries to attach each segment above read-write and read-only")
	l.Say("(SHM_RDONLY):")
	l.Call("start: %s %s   (as uid %d, gid %d)", filepath.Base(cmd.Path), strings.Join(args, " "), uid, gid)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("the process running as nobody failed: %v", err)
	}
	l.Say("shmget checks only the permissions asked for in shmflg: with 0 it finds any")
	l.Say("segment, and the refusal comes at shmat. 0600: others have no bits, EACCES both")
	l.Say("ways. 0644: others may read, so only the SHM_RDONLY attach works. 0666: anyone")
	l.Say("on the machine may write, which is rarely what you want; prefer 0600 and share")
	l.Say("with other users on purpose.")
	explainYourMode(l, mode)
	return nil
}

// explainYourMode reads the others digit of a -mode other than the three above.
func explainYourMode(l *lesson.Lesson, mode int) {
	if mode == 0o600 || mode == 0o644 || mode == 0o666 {
		return
	}
	l.Say("%04o (your -mode): the others digit is %d, so a user neither owner nor in the group", mode, mode&7)
	l.Say("(such as the user nobody) %s.", othersMay(mode&7))
}

// othersMay says what a user outside the owner and group may do with a segment
// whose "others" digit is bits. Every attach needs read; read-write needs write too.
func othersMay(bits int) string {
	switch {
	case bits&6 == 6:
		return "may attach it read-write and read-only"
	case bits&4 != 0:
		return "may attach it read-only (SHM_RDONLY) only"
	default:
		return "is refused both ways (every attach needs read)"
	}
}

// childTry runs as another user. It opens key with shmget, asking first for no
// permissions and then for read and write, and tries to attach each segment
// read-write and read-only, reporting what the kernel says.
func childTry(l *lesson.Lesson, args []string) error {
	if len(args) < 1 {
		return lesson.Usagef("usage: %s KEY ID...", roleTry)
	}
	who := fmt.Sprintf("[pid %d, uid %d]", os.Getpid(), os.Getuid())
	k, err := strconv.ParseUint(strings.TrimPrefix(args[0], "0x"), 16, 32)
	if err != nil {
		return lesson.Usagef("%s: key %q is not a hex number", roleTry, args[0])
	}
	key := ftok.Key(int32(uint32(k)))
	for _, flg := range []int{0, 0o600} {
		id, err := unix.SysvShmGet(int(key), 0, flg)
		if err != nil {
			l.Result("%s %s: %s", who, shmgetCall(key, 0, flg), lesson.ErrnoText(err))
		} else {
			l.Result("%s %s: id %d", who, shmgetCall(key, 0, flg), id)
		}
	}
	for _, arg := range args[1:] {
		id, err := strconv.Atoi(arg)
		if err != nil {
			return lesson.Usagef("%s: segment id %q is not a number", roleTry, arg)
		}
		if err := tryAttach(l, who, id); err != nil {
			return err
		}
	}
	return nil
}

// tryAttach attaches segment id read-write, then read-only, and says how each went.
func tryAttach(l *lesson.Lesson, who string, id int) error {
	for _, try := range []struct {
		flags int
		name  string
	}{{0, "0"}, {unix.SHM_RDONLY, "SHM_RDONLY"}} {
		b, err := unix.SysvShmAttach(id, 0, try.flags)
		if err != nil {
			l.Result("%s shmat(%d, NULL, %s): %s", who, id, try.name, lesson.ErrnoText(err))
			continue
		}
		got := message(b)
		if try.flags == 0 {
			write(b, "nobody was here")
			l.Result("%s shmat(%d, NULL, %s): attached; read %q, wrote \"nobody was here\"", who, id, try.name, got)
		} else {
			l.Result("%s shmat(%d, NULL, %s): attached; read %q", who, id, try.name, got)
		}
		if err := unix.SysvShmDetach(b); err != nil {
			return lesson.Failed(fmt.Sprintf("shmdt(%#x)", uintptr(unsafe.Pointer(&b[0]))), err, "")
		}
	}
	return nil
}

func outlive(l *lesson.Lesson, id int) {
	l.Step("Segments outlive their processes")
	gone := "the second process of step 9 has exited, its segment has not"
	if os.Geteuid() == 0 {
		gone = "the processes of steps 9 and 10 are gone, the segments they used are not"
	}
	l.Say("A segment stays until someone removes it with shmctl(IPC_RMID) or the machine")
	l.Say("reboots, even after every process that used it has exited:")
	l.Say("%s (unless", gone)
	l.Say("/proc/sys/kernel/shm_rmid_forced is 1, see proc(5)). List segments and remove")
	l.Say("a leftover of yours:")
	l.Look("ipcs -m")
	l.Look("ipcrm -m %d", id)
	l.Say("This program removes everything it made as it ends (also on an error or Ctrl-C).")
	l.Say("Next: go run ./03-shmat, attaching a segment from two processes.")
}
