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
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
PROJ_ID  the project id, read as C's strtol(s, NULL, 0) reads it: decimal (65),
         hex (0x41) or, with a leading 0, octal (0101); or one character (A). Only
         its low 8 bits are used, and they must not be 0 (default: A)

Flags come before PATH and PROJ_ID.`

func main() { lesson.Main(name, usage, run) }

func run(l *lesson.Lesson, args []string) error {
	if err := l.Parse(args); err != nil {
		return err
	}
	path, id, err := parseArgs(l)
	if err != nil {
		return err
	}
	// A directory of our own for the files this lesson creates, links and deletes.
	// It is removed however the program ends (error, panic, Ctrl-C), even when the
	// signal comes while it is being made (lesson.MkdirTemp).
	dir, err := lesson.MkdirTemp(l, "01-ftok-")
	if err != nil {
		return fmt.Errorf("creating a temporary directory: %w", err)
	}
	own := filepath.Join(dir, "keyfile")
	if err := os.WriteFile(own, []byte("a file to make keys from\n"), 0o644); err != nil {
		return err
	}
	l.Say("Working directory for this lesson's files: %s (removed at the end)", dir)
	if path == "" {
		path = own
	}
	return tour(l, path, own, id)
}

// tour is the lesson: each function below is one numbered step. path is the
// learner's file (or own); the steps that link, delete and replace use own.
func tour(l *lesson.Lesson, path, own string, id projID) error {
	if err := showKey(l, path, id); err != nil {
		return err
	}
	if path != own {
		l.Say("The next steps link, delete and replace files, so they use a file of")
		l.Say("their own, %s, rather than yours.", own)
	}
	if err := sameFileOtherNames(l, own, id.value); err != nil {
		return err
	}
	if err := recreate(l, own, id.value); err != nil {
		return err
	}
	if err := replace(l, own, id.value); err != nil {
		return err
	}
	if err := lowByteOnly(l, own, id.value); err != nil {
		return err
	}
	collision(l, id.value)
	missing(l, filepath.Join(filepath.Dir(own), "no-such-file"), id.value)
	takeAway(l)
	return nil
}

func showKey(l *lesson.Lesson, path string, id projID) error {
	l.Step("ftok(path, proj_id): a key from a file")
	l.Say("C: key_t ftok(const char *pathname, int proj_id);   (a libc function, not a system call)")
	l.Say("Go: ftok.Ftok(path string, projID int) (ftok.Key, error)   (internal/ftok: x/sys has none)")
	if s := id.spelled(); s != "" {
		l.Say("%s", s)
	}
	l.Say("ftok calls stat(2) on the file and keeps three of the numbers it gets:")
	l.Call("stat(%s)", lesson.Quote(path))
	ino, dev, err := statFile(path)
	if err != nil {
		return ftokFailed(path, id.value, err)
	}
	l.Result("st_dev %s, st_ino %d (%#x)", devString(dev), ino, ino)
	l.Look("stat -c 'st_dev %%D (hex)  st_ino %%i' %s", path)

	l.Call("%s", ftokCall(path, id.value))
	key, err := ftok.Ftok(path, id.value)
	if err != nil {
		return ftokFailed(path, id.value, err)
	}
	l.Result("key %v", key)
	l.Say("The key's 32 bits are three pieces, high to low:")
	l.Say("  0x%02x______  proj_id & 0xff   = 0x%02x  (the id you gave: %s)", key.ProjID(), key.ProjID(), describeID(id.value))
	l.Say("  0x__%02x____  st_dev  & 0xff   = 0x%02x  (device %#x)", key.Dev(), key.Dev(), dev)
	l.Say("  0x____%04x  st_ino  & 0xffff = 0x%04x  (inode %#x)", key.Ino(), key.Ino(), ino)
	if id.value > 0xff {
		l.Say("Only the low 8 bits of the id count: %#x acts as %s.", id.value, describeID(id.value&0xff))
	}
	l.Say("ipcs prints keys like this, 0x%%08x; /proc/sysvipc/shm prints the same key in decimal (%d).", int32(key))
	l.Look("ipcs -m    # the key column of any segment made with this key would read %v", key)
	return nil
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
	l.Call("ftok(NAME, %s) for each name of the file:", describeID(projID))
	var keys []ftok.Key
	for _, p := range names {
		key, ino, err := keyOf(p, projID)
		if err != nil {
			return ftokFailed(p, projID, err)
		}
		l.Result("%-60s key %v  (inode %d)", ftokCall(p, projID), key, ino)
		keys = append(keys, key)
	}
	for _, k := range keys[1:] {
		if k != keys[0] {
			return fmt.Errorf("the names of one file gave different keys: this should not happen")
		}
	}
	l.Say("Same key every time: a hard link is the same inode under another name, a symbolic")
	l.Say("link is followed (ftok uses stat, not lstat), and '..', '.' or a relative path")
	l.Say("reach the same inode. The spelling of the path plays no part.")
	l.Look("stat -c '%%i %%n' %s %s %s", own, hard, soft)
	return nil
}

// keyNow narrates ftok(own) before a step changes the file, and returns the key
// and the inode it came from.
func keyNow(l *lesson.Lesson, own string, projID int, when string) (ftok.Key, uint64, error) {
	l.Call("%s", ftokCall(own, projID))
	key, ino, err := keyOf(own, projID)
	if err != nil {
		return 0, 0, ftokFailed(own, projID, err)
	}
	l.Result("%s key %v (inode %d)", when, key, ino)
	return key, ino, nil
}

func recreate(l *lesson.Lesson, own string, projID int) error {
	l.Step("Delete the file and create it again")
	before, inoBefore, err := keyNow(l, own, projID, "before:")
	if err != nil {
		return err
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
	after, inoAfter, err := keyNow(l, own, projID, "after: ")
	if err != nil {
		return err
	}
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
	before, inoBefore, err := keyNow(l, own, projID, "before:")
	if err != nil {
		return err
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
	after, inoAfter, err := keyNow(l, own, projID, "after: ")
	if err != nil {
		return err
	}
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
	ids := []int{low, low | 0x100, low | 0x200, low | 0x7fff00, next}
	l.Call("ftok(%s, ID) for ID = %#x, %#x, %#x, %#x, %#x:", lesson.Quote(own), ids[0], ids[1], ids[2], ids[3], ids[4])
	for _, id := range ids {
		key, err := ftok.Ftok(own, id)
		if err != nil {
			return ftokFailed(own, id, err)
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

func collision(l *lesson.Lesson, projID int) {
	l.Step("Two different files, one key")
	l.Say("The key keeps 16 bits of the inode and 8 of the device, so files whose inode")
	l.Say("numbers differ by a multiple of 65536 on the same device share a key. Looking")
	l.Say("for two such files under %s (stat(2) on at most %d entries):", strings.Join(collisionRoots, ", "), collisionLimit)
	a, b, seen, found := findCollision(collisionRoots, projID, collisionLimit)
	if !found {
		l.Result("no collision among the %d files looked at", seen)
		l.Say("Their inode numbers are too close together here for a collision to occur, but")
		l.Say("the arithmetic stands: inodes %d and %d on one device give one key", 70000, 70000+65536)
		l.Say("(%v and %v).", ftok.Make(70000, 0xfe00, projID), ftok.Make(70000+65536, 0xfe00, projID))
		return
	}
	l.Result("found after looking at %d files; asking ftok itself about both:", seen)
	for _, f := range []fileID{a, b} {
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

func takeAway(l *lesson.Lesson) {
	l.Step("What to take away")
	l.Say("A key is a 32-bit number made from a file's inode and device numbers and one")
	l.Say("byte of id. Two programs meet at the same segment by calling ftok on the same")
	l.Say("existing file with the same id (or by agreeing on a key outright).")
	l.Say("Next: go run ./02-shmget, which turns a key into a segment.")
}
