//go:build linux

// A key, creating a segment (and EEXIST), opening it, ENOENT and EINVAL.

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
)

// makeKey makes a key with ftok from a file of the lesson's own, as 01-ftok did.
func makeKey(l *lesson.Lesson) (ftok.Key, string, error) {
	l.Step("A key from ftok")
	dir, err := lesson.MkdirTemp(l, "02-shmget-")
	if err != nil {
		return 0, "", fmt.Errorf("creating a temporary directory: %w", err)
	}
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
	id, err := createSegment(l, key, size, flg)
	if err != nil {
		return 0, lesson.Failed(shmgetCall(key, size, flg), err, whyCreateFailed(err, size))
	}
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
		return "the size is above SHMMAX (/proc/sys/kernel/shmmax)"
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
	_, err := createSegment(l, key, size, flg)
	if err == nil {
		return fmt.Errorf("%s succeeded twice: IPC_EXCL should have refused", shmgetCall(key, size, flg))
	}
	l.Result("%s", lesson.ErrnoText(err))
	l.Say("IPC_EXCL refuses a key that has a segment. When several processes start at once,")
	l.Say("each tries IPC_CREAT|IPC_EXCL: exactly one wins and initialises the segment, the")
	l.Say("others get EEXIST and open it instead.")

	flg = unix.IPC_CREAT | mode
	// This opens the segment of step 2; were it gone (removed by a signal's cleanup
	// while this step goes on), it would create one, so it is made as a creation is.
	got, err := createSegment(l, key, size, flg)
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
	id, err := createSegment(l, key, 0, flg)
	if err == nil {
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
