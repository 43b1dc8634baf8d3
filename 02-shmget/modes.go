//go:build linux

package main

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
)

// Flags golang.org/x/sys/unix does not name, from <linux/shm.h>.
const (
	shmHugeTLB   = 0o4000   // shmget: back the segment with huge pages
	shmNoReserve = 0o10000  // shmget: do not count (reserve) the memory now
	shmExec      = 0o100000 // shmat: map the segment executable
)

// parseMode reads -mode: octal permission bits, at most 0777.
func parseMode(s string) (int, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	if err != nil {
		return 0, lesson.Usagef("-mode %s is not an octal number: give permission bits such as 0600 or 0644", lesson.Quote(s))
	}
	if v > 0o777 {
		return 0, lesson.Usagef("-mode %s is more than 0777: only the 9 permission bits (owner, group, others; read 4, write 2, execute 1) go here, the program adds IPC_CREAT and IPC_EXCL itself", s)
	}
	return int(v), nil
}

// flagString spells shmflg as C code would: IPC_CREAT|IPC_EXCL|0600,
// SHM_HUGETLB|SHM_NORESERVE|0600.
func flagString(flg int) string {
	var parts []string
	for _, f := range []struct {
		bit  int
		name string
	}{
		{unix.IPC_CREAT, "IPC_CREAT"}, {unix.IPC_EXCL, "IPC_EXCL"},
		{shmHugeTLB, "SHM_HUGETLB"}, {shmNoReserve, "SHM_NORESERVE"},
	} {
		if flg&f.bit != 0 {
			parts = append(parts, f.name)
		}
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

// isShown reports whether mode is one of the three the permission step always shows.
func isShown(mode int) bool { return mode == 0o600 || mode == 0o644 || mode == 0o666 }

// explainYourMode reads the others digit of a -mode other than the three the
// permission step always shows.
func explainYourMode(l *lesson.Lesson, mode int) {
	if isShown(mode) {
		return
	}
	l.Say("%04o (your -mode): the others digit is %d, so a user neither owner nor in the group", mode, mode&7)
	l.Say("(such as the user nobody) %s.", othersMay(mode&7))
}

// ownerDenied explains an EACCES that the segment's own mode gives its owner, this
// process: the kernel applies the owner digit to the owner too (ipcperms in
// ipc/util.c), and only CAP_IPC_OWNER skips the check (shmop(2), capabilities(7)).
// needs says what the failed call asks for.
func ownerDenied(call string, err error, mode int, needs string) error {
	return lesson.Failed(call, err, fmt.Sprintf(
		"the segment's mode %04o gives its owner, this process, only %s, and the owner digit binds the owner too: %s (only CAP_IPC_OWNER, which root has, skips the check); give the owner 6, e.g. -mode %04o",
		mode, rwx(mode)[:3], needs, mode|0o600))
}
