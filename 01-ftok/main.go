//go:build linux

// Command 01-ftok shows where System V IPC keys come from: ftok(3) turns a file and
// a one-byte project id into a 32-bit key, which shmget and semget take next.
//
// ftok is a C library function, not a system call, and golang.org/x/sys/unix has
// none, so the course writes it (internal/ftok) with glibc's formula:
//
//	key = (st_ino & 0xffff) | (st_dev & 0xff) << 16 | (proj_id & 0xff) << 24
//
// This program takes a file apart into those three pieces, then shows what the
// formula implies: the key names a file, not a path; recreating the file may change
// it; only 8 bits of the id count; and two different files can share a key.
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
)

const name = "01-ftok"

const usage = `usage: go run ./01-ftok [-step] [PATH [PROJ_ID]]

Computes the System V IPC key ftok(PATH, PROJ_ID) as glibc does, shows the three
parts it is made of, and what that means: the same key through a hard link or
another spelling of the path, a different key for a replaced file, only the low 8
bits of PROJ_ID counting, a real collision between two files, and ENOENT.

PATH     an existing file or directory (default: a file this program creates in a
         temporary directory and removes at the end)
PROJ_ID  the project id: decimal (65), hex (0x41) or one character (A); only its
         low 8 bits are used, and they must not be 0 (default: A)`

func main() { lesson.Main(name, usage, run) }

// defaultProjID is 'A', the id the course uses everywhere.
const defaultProjID = 'A'

// collisionRoots are where step 6 looks for two files with the same key: large,
// old directory trees whose inode numbers are spread over far more than 65536.
var collisionRoots = []string{"/usr", "/etc", "/var", "/opt"}

// collisionLimit bounds that search, so it ends in about a second even where no
// collision exists.
const collisionLimit = 200000

func run(l *lesson.Lesson, args []string) error {
	if err := l.Parse(args); err != nil {
		return err
	}
	path, projID, err := parseArgs(l.Flags.Args())
	if err != nil {
		return err
	}

	// A directory of our own for the files this lesson creates, links and deletes.
	// The cleanup removes it however the program ends (error, panic, Ctrl-C).
	dir, err := os.MkdirTemp("", "01-ftok-")
	if err != nil {
		return fmt.Errorf("creating a temporary directory: %w", err)
	}
	l.Cleanup("remove "+dir, func() error { return os.RemoveAll(dir) })
	own := filepath.Join(dir, "keyfile")
	if err := os.WriteFile(own, []byte("a file to make keys from\n"), 0o644); err != nil {
		return err
	}
	if path == "" {
		path = own
	}
	l.Say("Working directory for this lesson's files: %s (removed at the end)", dir)

	if err := showKey(l, path, projID); err != nil {
		return err
	}
	if path != own {
		l.Say("The next steps link, delete and replace files, so they use a file of")
		l.Say("their own, %s, rather than yours.", own)
	}
	if err := sameFileOtherNames(l, own, projID); err != nil {
		return err
	}
	if err := recreate(l, own, projID); err != nil {
		return err
	}
	if err := replace(l, own, projID); err != nil {
		return err
	}
	if err := lowByteOnly(l, own, projID); err != nil {
		return err
	}
	collision(l, projID)
	missing(l, filepath.Join(dir, "no-such-file"), projID)

	l.Step("What to take away")
	l.Say("A key is a 32-bit number made from a file's inode and device numbers and one")
	l.Say("byte of id. Two programs meet at the same segment by calling ftok on the same")
	l.Say("existing file with the same id (or by agreeing on a key outright).")
	l.Say("Next: go run ./02-shmget, which turns a key into a segment.")
	return nil
}

// parseArgs reads the optional PATH and PROJ_ID.
func parseArgs(args []string) (path string, projID int, err error) {
	projID = defaultProjID
	switch len(args) {
	case 0:
	case 1:
		path = args[0]
	case 2:
		path = args[0]
		if projID, err = parseProjID(args[1]); err != nil {
			return "", 0, err
		}
	default:
		return "", 0, lesson.Usagef("too many arguments (%d): want at most PATH and PROJ_ID", len(args))
	}
	if len(args) > 0 && path == "" {
		return "", 0, lesson.Usagef("PATH is empty: give an existing file or directory")
	}
	return path, projID, nil
}

// parseProjID accepts decimal (65), hex (0x41) or a single character (A, which is
// 65). A single digit is a number: "1" is 1, not the character '1' (0x31).
func parseProjID(s string) (int, error) {
	var v int64
	var err error
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		v, err = strconv.ParseInt(s[2:], 16, 32)
	case len(s) == 1 && (s[0] < '0' || s[0] > '9'):
		if s[0] <= ' ' || s[0] > '~' {
			return 0, lesson.Usagef("PROJ_ID %q: a one-character id must be a printable ASCII character", s)
		}
		v = int64(s[0])
	default:
		v, err = strconv.ParseInt(s, 10, 32)
	}
	if err != nil || v < 0 {
		return 0, lesson.Usagef("PROJ_ID %q is not a number: give decimal (65), hex (0x41) or one character (A), from 1 to 0x7fffffff", s)
	}
	if v&0xff == 0 {
		return 0, lesson.Usagef("PROJ_ID %s: ftok uses only the low 8 bits of the id, here 0, and ftok(3) requires them to be nonzero (a zero byte would leave the file alone to pick the key); try 1 or A", s)
	}
	return int(v), nil
}

// describeID prints an id as hex, with its character where it is one: 0x41 ('A').
func describeID(id int) string {
	if b := byte(id); id <= 0xff && b > ' ' && b <= '~' {
		return fmt.Sprintf("%#x ('%c')", id, b)
	}
	return fmt.Sprintf("%#x", id)
}

// stat returns path's inode and device numbers, following symbolic links as ftok
// does.
func stat(path string) (ino, dev uint64, err error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, 0, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	return uint64(st.Ino), uint64(st.Dev), nil // widths differ between architectures
}

// devString prints a device number as stat -c %D does (hex) with its major and
// minor numbers.
func devString(dev uint64) string {
	major := (dev >> 8 & 0xfff) | (dev >> 32 &^ 0xfff)
	minor := (dev & 0xff) | (dev >> 12 &^ 0xff)
	return fmt.Sprintf("%#x (major %d, minor %d)", dev, major&0xffffffff, minor&0xffffffff)
}

// ftokCall is the call as C spells it, for narration and errors.
func ftokCall(path string, projID int) string {
	return fmt.Sprintf("ftok(%q, %s)", path, describeID(projID))
}

func showKey(l *lesson.Lesson, path string, projID int) error {
	l.Step("ftok(path, proj_id): a key from a file")
	l.Say("C: key_t ftok(const char *pathname, int proj_id);   (a libc function, not a system call)")
	l.Say("Go: ftok.Ftok(path string, projID int) (ftok.Key, error)   (internal/ftok: x/sys has none)")
	l.Say("ftok calls stat(2) on the file and keeps three of the numbers it gets:")
	l.Call("stat(%q)", path)
	ino, dev, err := stat(path)
	if err != nil {
		return lesson.Failed(ftokCall(path, projID), err, whyStatFailed(err))
	}
	l.Result("st_dev %s, st_ino %d (%#x)", devString(dev), ino, ino)
	l.Look("stat -c 'st_dev %%D (hex)  st_ino %%i' %s", path)

	l.Call("%s", ftokCall(path, projID))
	key, err := ftok.Ftok(path, projID)
	if err != nil {
		return lesson.Failed(ftokCall(path, projID), err, whyStatFailed(err))
	}
	l.Result("key %v", key)
	l.Say("The key's 32 bits are three pieces, high to low:")
	l.Say("  0x%02x______  proj_id & 0xff   = 0x%02x  (the id you gave: %s)", key.ProjID(), key.ProjID(), describeID(projID))
	l.Say("  0x__%02x____  st_dev  & 0xff   = 0x%02x  (device %#x)", key.Dev(), key.Dev(), dev)
	l.Say("  0x____%04x  st_ino  & 0xffff = 0x%04x  (inode %#x)", key.Ino(), key.Ino(), ino)
	if projID > 0xff {
		l.Say("Only the low 8 bits of the id count: %#x acts as %s.", projID, describeID(projID&0xff))
	}
	l.Say("ipcs prints keys like this, 0x%%08x; /proc/sysvipc/shm prints the same key in decimal (%d).", int32(key))
	l.Look("ipcs -m    # the key column of any segment made with this key would read %v", key)
	return nil
}

// whyStatFailed explains the errors stat(2) gives ftok.
func whyStatFailed(err error) string {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return "the file does not exist; ftok needs an existing file, since the key is made from its inode and device numbers"
	case errors.Is(err, syscall.EACCES):
		return "a directory on the way to the file may not be searched (x) by this user, so stat(2) cannot reach it"
	case errors.Is(err, syscall.ENOTDIR):
		return "a part of the path before the last is not a directory"
	case errors.Is(err, syscall.ELOOP):
		return "too many symbolic links while resolving the path"
	case errors.Is(err, syscall.ENAMETOOLONG):
		return "the path is longer than PATH_MAX (4096 bytes), or one name in it is longer than NAME_MAX (255)"
	}
	return "stat(2) failed, and ftok fails with it"
}

// keyOf runs Ftok and returns the key with the file's inode number, for tables.
func keyOf(path string, projID int) (ftok.Key, uint64, error) {
	key, err := ftok.Ftok(path, projID)
	if err != nil {
		return 0, 0, err
	}
	ino, _, err := stat(path)
	return key, ino, err
}

func sameFileOtherNames(l *lesson.Lesson, own string, projID int) error {
	l.Step("The key names a file, not a path")
	dir := filepath.Dir(own)
	hard := filepath.Join(dir, "hardlink")
	soft := filepath.Join(dir, "symlink")
	l.Call("link(%q, %q)", own, hard)
	if err := os.Link(own, hard); err != nil {
		return lesson.Failed(fmt.Sprintf("link(%q, %q)", own, hard), err, "cannot make a hard link in the temporary directory")
	}
	l.Call("symlink(%q, %q)", filepath.Base(own), soft)
	if err := os.Symlink(filepath.Base(own), soft); err != nil {
		return lesson.Failed(fmt.Sprintf("symlink(%q, %q)", filepath.Base(own), soft), err, "cannot make a symbolic link in the temporary directory")
	}
	names := []string{
		own,
		hard,
		soft,
		dir + "/../" + filepath.Base(dir) + "/" + filepath.Base(own),
		dir + "/./" + filepath.Base(own),
	}
	if cwd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(cwd, own); err == nil {
			names = append(names, rel) // relative to where the program runs
		}
	}
	want, _, err := keyOf(own, projID)
	if err != nil {
		return lesson.Failed(ftokCall(own, projID), err, whyStatFailed(err))
	}
	same := true
	for _, p := range names {
		key, ino, err := keyOf(p, projID)
		if err != nil {
			return lesson.Failed(ftokCall(p, projID), err, whyStatFailed(err))
		}
		l.Result("%-60s key %v  (inode %d)", ftokCall(p, projID), key, ino)
		same = same && key == want
	}
	if !same {
		return fmt.Errorf("the names of one file gave different keys: this should not happen")
	}
	l.Say("Same key every time: a hard link is the same inode under another name, a symbolic")
	l.Say("link is followed (ftok uses stat, not lstat), and '..', '.' or a relative path")
	l.Say("reach the same inode. The spelling of the path plays no part.")
	l.Look("stat -c '%%i %%n' %s %s %s", own, hard, soft)
	return nil
}

func recreate(l *lesson.Lesson, own string, projID int) error {
	l.Step("Delete the file and create it again")
	before, inoBefore, err := keyOf(own, projID)
	if err != nil {
		return lesson.Failed(ftokCall(own, projID), err, whyStatFailed(err))
	}
	// The hard link would keep the old inode alive: remove both names.
	hard := filepath.Join(filepath.Dir(own), "hardlink")
	l.Call("unlink(%q); unlink(%q); creat(%q)", hard, own, own)
	if err := os.Remove(hard); err != nil {
		return err
	}
	if err := os.Remove(own); err != nil {
		return err
	}
	if err := os.WriteFile(own, []byte("the same name, a new file\n"), 0o644); err != nil {
		return err
	}
	after, inoAfter, err := keyOf(own, projID)
	if err != nil {
		return lesson.Failed(ftokCall(own, projID), err, whyStatFailed(err))
	}
	l.Result("before: key %v (inode %d)", before, inoBefore)
	l.Result("after:  key %v (inode %d)", after, inoAfter)
	switch {
	case inoAfter == inoBefore:
		l.Say("This time the file system handed the freed inode number straight back to the new")
		l.Say("file, so the key did not change (ext4 often does this; tmpfs does not, it")
		l.Say("counts up). Do not rely on either: whether a recreated file keeps its key is up")
		l.Say("to the file system. The next step replaces the file the way many editors, mv")
		l.Say("and package managers do, which always gives a new inode.")
	case after != before:
		l.Say("A new file gets a new inode number, so a new key. A program still using the old")
		l.Say("key will not find segments made with the new one: a classic rendezvous bug when")
		l.Say("a key file is deleted and recreated between runs.")
	default:
		l.Say("The new inode (%d) differs from the old (%d) but has the same low 16 bits,", inoAfter, inoBefore)
		l.Say("so by chance the key is the same: only 16 bits of the inode count.")
	}
	return nil
}

func replace(l *lesson.Lesson, own string, projID int) error {
	l.Step("Replace the file with a new one (write elsewhere, rename over it)")
	before, inoBefore, err := keyOf(own, projID)
	if err != nil {
		return lesson.Failed(ftokCall(own, projID), err, whyStatFailed(err))
	}
	tmp := own + ".new"
	l.Call("creat(%q); rename(%q, %q)", tmp, tmp, own)
	if err := os.WriteFile(tmp, []byte("a replacement\n"), 0o644); err != nil {
		return err
	}
	// The new file exists while the old one still does, so it cannot get the old
	// file's inode number: this is how editors save and how mv or a package manager
	// replaces a file.
	if err := os.Rename(tmp, own); err != nil {
		return err
	}
	after, inoAfter, err := keyOf(own, projID)
	if err != nil {
		return lesson.Failed(ftokCall(own, projID), err, whyStatFailed(err))
	}
	l.Result("before: key %v (inode %d)", before, inoBefore)
	l.Result("after:  key %v (inode %d)", after, inoAfter)
	if after != before {
		l.Say("Same path, new file, new key. Pick a key file nothing rewrites (a directory the")
		l.Say("program owns, not its executable, which an upgrade replaces), or agree on a")
		l.Say("fixed key instead of ftok.")
	} else {
		l.Say("The new inode (%d) has the same low 16 bits as the old (%d), so by chance the", inoAfter, inoBefore)
		l.Say("key is the same: only 16 bits of the inode count.")
	}
	return nil
}

func lowByteOnly(l *lesson.Lesson, own string, projID int) error {
	l.Step("Only the low 8 bits of proj_id count")
	low := projID & 0xff
	next := low%0xff + 1 // another nonzero byte
	for _, id := range []int{low, low | 0x100, low | 0x200, low | 0x7fff00, next} {
		key, err := ftok.Ftok(own, id)
		if err != nil {
			return lesson.Failed(ftokCall(own, id), err, whyStatFailed(err))
		}
		l.Result("%-58s key %v", ftokCall(own, id), key)
	}
	l.Say("%#x, %#x and %#x give the key of %s: ftok keeps proj_id & 0xff. So there are", low|0x100, low|0x200, low|0x7fff00, describeID(low))
	l.Say("only 255 usable ids per file; a different low byte (%s) gives a different key.", describeID(next))
	l.Call("%s", ftokCall(own, 0x100))
	_, err := ftok.Ftok(own, 0x100)
	l.Result("refused: %v", err)
	l.Say("glibc would accept an id whose low byte is 0; ftok(3) says it must be nonzero,")
	l.Say("and the course's Ftok enforces that.")
	return nil
}

// fileID is a file found by the collision search.
type fileID struct {
	path     string
	dev, ino uint64
}

// findCollision looks through roots breadth first (each directory's entries in
// lexical order, shallow paths before deep ones) and returns the first two
// different files (different inode or device) whose ftok keys are equal, looking
// at no more than limit entries. Symbolic links are skipped, so lstat (what the
// search sees) and stat (what ftok uses) agree.
func findCollision(roots []string, projID, limit int) (a, b fileID, seen int, found bool) {
	byKey := map[ftok.Key]fileID{}
	queue := append([]string(nil), roots...)
	for len(queue) > 0 && seen < limit {
		dir := queue[0]
		queue = queue[1:]
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue // unreadable: skip it
		}
		for _, e := range entries {
			if e.Type()&fs.ModeSymlink != 0 {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			st, ok := info.Sys().(*syscall.Stat_t)
			if !ok {
				continue
			}
			seen++
			f := fileID{filepath.Join(dir, e.Name()), uint64(st.Dev), uint64(st.Ino)}
			key := ftok.Make(f.ino, f.dev, projID)
			if other, dup := byKey[key]; dup && (other.ino != f.ino || other.dev != f.dev) {
				return other, f, seen, true
			}
			byKey[key] = f
			if e.IsDir() {
				queue = append(queue, f.path)
			}
			if seen >= limit {
				break
			}
		}
	}
	return fileID{}, fileID{}, seen, false
}

func collision(l *lesson.Lesson, projID int) {
	l.Step("Two different files, one key")
	l.Say("The key keeps 16 bits of the inode and 8 of the device, so files whose inode")
	l.Say("numbers differ by a multiple of 65536 on the same device share a key. Looking")
	l.Say("for two such files under %s (at most %d entries):", strings.Join(collisionRoots, ", "), collisionLimit)
	a, b, seen, found := findCollision(collisionRoots, projID, collisionLimit)
	if !found {
		l.Result("no collision among the %d files looked at", seen)
		l.Say("Their inode numbers are too close together here for a collision to occur, but")
		l.Say("the arithmetic stands: inodes %d and %d on one device give one key", 70000, 70000+65536)
		l.Say("(%v and %v).", ftok.Make(70000, 0xfe00, projID), ftok.Make(70000+65536, 0xfe00, projID))
		return
	}
	l.Result("found after looking at %d files:", seen)
	for _, f := range []fileID{a, b} {
		// Ask ftok itself, not the search's arithmetic.
		key, err := ftok.Ftok(f.path, projID)
		if err != nil {
			l.Result("%s: %s", ftokCall(f.path, projID), lesson.ErrnoText(err))
			continue
		}
		l.Result("%s = %v   st_dev %#x, st_ino %d = %#x", ftokCall(f.path, projID), key, f.dev, f.ino, f.ino)
	}
	if a.dev == b.dev {
		l.Say("Same device, inodes %#x and %#x: different files, same low 16 bits, same key.", a.ino, b.ino)
	} else {
		l.Say("Devices %#x and %#x share their low byte, inodes %#x and %#x their low 16 bits.", a.dev, b.dev, a.ino, b.ino)
	}
	l.Say("Two unrelated programs using these files would meet at each other's segments.")
	l.Say("ftok makes keys likely to differ, never certain to: IPC_CREAT|IPC_EXCL (next")
	l.Say("lesson) is how a program finds out that a key is already taken.")
	l.Look("stat -c '%%d %%i %%n' %s %s", a.path, b.path)
}

func missing(l *lesson.Lesson, path string, projID int) {
	l.Step("A file that does not exist: ENOENT")
	l.Call("%s", ftokCall(path, projID))
	_, err := ftok.Ftok(path, projID)
	if err == nil {
		l.Result("unexpectedly, %s exists", path)
		return
	}
	l.Result("%s", lesson.ErrnoText(err))
	l.Say("C's ftok returns (key_t)-1 and sets errno to what stat(2) gave: %s.", lesson.Errno(err))
	l.Say("Go's Ftok returns the *fs.PathError, so errors.Is(err, fs.ErrNotExist) is true.")
	l.Say("Other stat errors come back the same way: EACCES, ENOTDIR, ELOOP, ENAMETOOLONG.")
}
