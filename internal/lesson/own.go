//go:build linux

package lesson

import (
	"fmt"
	"os"

	"github.com/learn-sysv/shm-course/internal/procsysv"
)

// ParentCreated returns nil if segment id was created by the process that started
// this one (its shm_cpid, from /proc/sysvipc/shm, is getppid(2)), and an error
// otherwise. A role calls it before it attaches, writes or removes anything: it is
// handed an id on its command line, and must touch only a segment its own lesson
// made in this run, never another program's. /proc/sysvipc/shm lists every segment
// to every user, so the check works for a role that runs as another user too.
func ParentCreated(id int) error {
	s, ok, err := procsysv.FindShm(id)
	if err != nil {
		return err
	}
	parent := os.Getppid()
	if !ok {
		return fmt.Errorf("no segment has id %d (ipcs -m lists them)", id)
	}
	if s.CPID != parent {
		return fmt.Errorf("segment %d was created by pid %d, not by the lesson that started me (pid %d): a role touches only its own lesson's segments", id, s.CPID, parent)
	}
	return nil
}
