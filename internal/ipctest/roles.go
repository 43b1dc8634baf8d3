//go:build linux

package ipctest

import (
	"os"
	"strconv"
	"testing"

	"github.com/learn-sysv/shm-course/internal/reexec"
)

// AsRoleParent lets this test start a lesson's internal roles directly
// (StartProgram(t, role, ...)): a role runs only in a process whose parent started
// it with reexec (lesson.Roles checks reexec.FromParent), and here that parent is
// the test. Programs the test starts inherit the setting until the test ends. Not
// for parallel tests (it uses t.Setenv).
func AsRoleParent(t *testing.T) {
	t.Helper()
	t.Setenv(reexec.EnvParent, strconv.Itoa(os.Getpid()))
}
