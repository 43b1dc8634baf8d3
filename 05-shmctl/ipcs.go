//go:build linux

package main

// Showing a segment the way ipcs and /proc/sysvipc/shm do.

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
)

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
