//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// execute shows that the execute bit is checked. Root passes every check, so as
// root the process running as nobody (nobody, from the permission step) tries it;
// otherwise this process does, on segments of its own.
func execute(l *lesson.Lesson, keyFile string, nobody *lesson.Child) error {
	l.Step("The execute bit is checked too")
	l.Say("shmget(2) says that execute permissions are not used. The kernel disagrees, and")
	l.Say("shmop(2) agrees with the kernel: shmat(id, NULL, SHM_EXEC) needs execute")
	l.Say("permission, and shmget checks any execute bit asked for in shmflg. The man page")
	l.Say("lags the kernel here; what follows is the kernel answering.")
	if nobody != nil {
		l.Say("Root would pass (CAP_IPC_OWNER), so the process running as nobody creates two")
		l.Say("segments of its own, 0600 and 0700, where the owner digit applies to it:")
		if err := nobody.Send(sayExec); err != nil {
			return fmt.Errorf("the process running as nobody: %v", err)
		}
		if _, err := nobody.Await(tellDone); err != nil {
			return fmt.Errorf("the process running as nobody failed: %v", err)
		}
		if err := nobody.Finish(); err != nil {
			return fmt.Errorf("the process running as nobody failed: %v", err)
		}
	} else {
		if hasCapIPCOwner() {
			l.Say("This process has CAP_IPC_OWNER, which skips the check, so every try below")
			l.Say("succeeds; as an ordinary user (or as root, through nobody) you see refusals.")
		} else {
			l.Say("You have no CAP_IPC_OWNER that counts here, so the kernel checks you: this")
			l.Say("process creates two segments of its own, 0600 and 0700, and tries:")
		}
		if err := tryExecute(l, fmt.Sprintf("uid %d:", os.Getuid()), keyFile); err != nil {
			return err
		}
	}
	l.Say("0600: the owner's digit, 6, has no execute bit, so all three are refused, even")
	l.Say("to the owner. 0700: all three pass. shmget folds the three digits of shmflg into")
	l.Say("one request (0100 and 0001 both ask for execute) and checks it against the one")
	l.Say("digit that applies to you. SHM_EXEC maps the segment executable (PROT_EXEC); it")
	l.Say("asks for execute on top of read and write (read alone with SHM_RDONLY).")
	if nobody == nil {
		l.Look("ipcs -m    # perms 600 and 700: the two segments, until the lesson ends")
	} else {
		l.Say("(The process running as nobody removed its two segments as it ended.)")
	}
	return nil
}

// tryExecute creates a 0600 and a 0700 segment with keys from ftok(keyFile, 'a'...)
// and asks for execute permission on each three ways: shmget(key, 0, 0100) (the
// owner's x), shmget(key, 0, 0001) (others' x, which shmget folds into the same
// request), and shmat(id, NULL, SHM_EXEC). who begins every line.
func tryExecute(l *lesson.Lesson, who, keyFile string) error {
	proj := 'a'
	for _, mode := range []int{0o600, 0o700} {
		key, id, next, err := newKeyedSegment(l, keyFile, proj, mode)
		if err != nil {
			return err
		}
		proj = next
		l.Result("%s %s: id %d", who, shmgetCall(key, 4096, unix.IPC_CREAT|unix.IPC_EXCL|mode), id)
		for _, flg := range []int{0o100, 0o001} {
			got, err := unix.SysvShmGet(int(key), 0, flg)
			if err != nil {
				l.Result("%s %s: %s", who, shmgetCall(key, 0, flg), lesson.ErrnoText(err))
			} else {
				l.Result("%s %s: id %d", who, shmgetCall(key, 0, flg), got)
			}
		}
		b, err := unix.SysvShmAttach(id, 0, shmExec)
		if err != nil {
			l.Result("%s shmat(%d, NULL, SHM_EXEC): %s", who, id, lesson.ErrnoText(err))
			continue
		}
		l.Result("%s shmat(%d, NULL, SHM_EXEC): attached at %#x, executable", who, id, shm.Addr(b))
		if err := unix.SysvShmDetach(b); err != nil {
			return lesson.Failed(fmt.Sprintf("shmdt(%#x)", shm.Addr(b)), err, "")
		}
	}
	return nil
}

// newKeyedSegment creates a new 4096-byte segment with mode and the key
// ftok(keyFile, proj), trying the next proj id while a key is taken (IPC_EXCL: it
// never opens a segment someone else made). It returns the key, the id and the
// next proj id to try.
func newKeyedSegment(l *lesson.Lesson, keyFile string, proj rune, mode int) (ftok.Key, int, rune, error) {
	flg := unix.IPC_CREAT | unix.IPC_EXCL | mode
	for ; proj <= 'z'; proj++ {
		key, err := ftok.Ftok(keyFile, int(proj))
		if err != nil {
			return 0, 0, 0, lesson.Failed(fmt.Sprintf("ftok(%s, '%c')", lesson.Quote(keyFile), proj), err, "")
		}
		id, err := shm.Create(l, int(key), 4096, flg)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return 0, 0, 0, lesson.Failed(shmgetCall(key, 4096, flg), err, whyCreateFailed(err, 4096))
		}
		return key, id, proj + 1, nil
	}
	return 0, 0, 0, fmt.Errorf("every key from ftok(%s, 'a'..'z') has a segment: run ipcs -m", lesson.Quote(keyFile))
}
