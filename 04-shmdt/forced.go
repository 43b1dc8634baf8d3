//go:build linux

package main

import (
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
)

// rmidForced reads kernel.shm_rmid_forced before the lesson starts and, where it is
// 1, says what that changes: the kernel destroys a segment the moment its last
// attachment goes, as if IPC_RMID had been called. Step 3 shows that; from then on
// the lesson keeps an attachment of its own (the anchor), so that the detaches the
// other steps are about do not destroy its segment.
func rmidForced(l *lesson.Lesson) bool {
	forced, err := procsysv.ShmRmidForced()
	if err != nil {
		l.Say("(cannot read %s: %v; going on as if it were 0, the default)", procsysv.ShmRmidForcedPath, err)
		return false
	}
	if forced {
		l.Say("kernel.shm_rmid_forced is 1 in this IPC namespace (cat %s):", procsysv.ShmRmidForcedPath)
		l.Say("the kernel destroys a segment as soon as nothing is attached to it, without")
		l.Say("IPC_RMID. Step 3 shows it. From then on this lesson keeps an attachment of its own")
		l.Say("(an anchor), so that nattch never reaches 0 while a step needs the segment; every")
		l.Say("nattch you see counts it. (Some distributions and containers set it; the default is 0.)")
	}
	return forced
}
