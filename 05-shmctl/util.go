//go:build linux

package main

// Small helpers the steps share.

import (
	"bytes"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

// errText names the errno in err ("EINVAL (invalid argument)"), or "0" for success.
func errText(err error) string {
	if err == nil {
		return "0 (no error)"
	}
	return lesson.ErrnoText(err)
}

func errnoOrNil(errno unix.Errno) error {
	if errno == 0 {
		return nil
	}
	return errno
}

// cString is the bytes of b up to the first NUL, as a string.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

func roundToPage(n uint64) uint64 {
	page := uint64(os.Getpagesize())
	return (n + page - 1) / page * page
}

// waitForNextSecond returns once the kernel's clock has passed the second sec, so
// that a time the kernel stamps from now on (like shm_ctime) differs from sec. The
// kernel stamps IPC times from its coarse clock, updated once a tick, which can lag
// time.Now by some milliseconds; CLOCK_REALTIME_COARSE reads that clock.
func waitForNextSecond(sec int64) {
	for {
		var now unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_REALTIME_COARSE, &now); err != nil || int64(now.Sec) > sec {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readProcValue reads a /proc/sys/kernel/ file such as shmmax.
func readProcValue(file string) string {
	b, err := os.ReadFile("/proc/sys/kernel/" + file)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return strings.TrimSpace(string(b))
}
