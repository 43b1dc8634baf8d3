//go:build linux

// The system's limits: what shmget refuses above them.

package main

import (
	"os"
	"strings"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

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
	l.Look("/sbin/sysctl kernel.shmmax kernel.shmall kernel.shmmni   # or: ipcs -m -l")
}
