//go:build linux

package ipctest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/learn-sysv/shm-course/internal/reexec"
)

// An ordinary user's test run, seen from root's: this test binary run as nobody,
// as go test would run it for an ordinary user. It gets a user and IPC namespace
// of its own (TestWhereTheTestsRun, run there, checks what it finds); SIGTERM to
// the wrapper that go test started reaches the supervisor inside, which stops the
// tests and removes their objects; and where the kernel refuses the user namespace,
// the run says so in one line and takes turns in the machine's namespace instead.
func TestAnOrdinaryUsersRun(t *testing.T) {
	NeedNobody(t)
	if os.Getenv(envNamespace) == "off" {
		t.Skip("SHMCOURSE_TEST_NAMESPACE=off: the runs this test starts would run in the shared namespace")
	}
	const refused = "ipctest: no IPC namespace of its own for this test run (a user namespace: no space left on device): " +
		"running in the shared one, taking turns with other test runs of the course on " + lockPath + "\n"
	for _, tc := range []struct {
		name       string
		refuseUser bool   // in a user namespace whose max_user_namespaces is 0
		run        string // the test to run
		sig        syscall.Signal
		exit       int
		stderr     string
	}{
		{"in namespaces of its own", false, "TestWhereTheTestsRun", 0, 0, ""},
		{"terminated", false, "TestHoldObjectsUntilSignalled", syscall.SIGTERM, 143,
			"ipctest: terminated: stopped the tests and removed the 4 System V object(s) they had created\n"},
		{"hangup", false, "TestHoldObjectsUntilSignalled", syscall.SIGHUP, 129,
			"ipctest: hangup: stopped the tests and removed the 4 System V object(s) they had created\n"},
		{"where user namespaces are refused", true, "TestHelperSeesSegment", 0, 0, refused},
		{"terminated where user namespaces are refused", true, "TestHoldObjectsUntilSignalled", syscall.SIGTERM, 143,
			refused + "ipctest: terminated: stopped the tests and removed the 4 System V object(s) they had created\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.sig != 0 {
				NeedSignal(t, tc.sig)
			}
			NoLeaks(t)
			p := startAsOrdinaryUser(t, tc.refuseUser, "-test.run=^"+tc.run+"$", "-test.v")
			if tc.sig != 0 {
				p.Expect(t, "HOLDING", Timeout)
				p.Signal(t, tc.sig) // to the wrapper (or, refused, the supervisor) alone
			}
			r := p.Wait(t)
			assert.Equal(t, tc.exit, r.ExitCode, r.Stdout)
			assert.Equal(t, tc.stderr, r.Stderr)
			if tc.sig == 0 {
				assert.Contains(t, r.Stdout, "--- PASS: "+tc.run+" ", "the test ran and passed")
			}
		})
	}
}

// startAsOrdinaryUser starts this test binary (a copy that nobody may run) as
// nobody, with args, where go test would: as the first process of a test run. With
// refuseUser it runs in a user namespace in which no further user namespace may be
// made (its user.max_user_namespaces is 0), as where user namespaces are turned off.
func startAsOrdinaryUser(t *testing.T, refuseUser bool, args ...string) *Proc {
	t.Helper()
	uid, gid := reexec.Nobody()
	cmd, err := reexec.CommandAs(uid, gid, args...)
	require.NoError(t, err)
	t.Cleanup(reexec.Cleanup)
	var env []string
	for _, kv := range withoutHelper() {
		if !strings.HasPrefix(kv, envNamespace+"=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, envHold+"=1")
	if refuseUser {
		// Root of the new user namespace (uid 0 mapped to root) lowers the limit,
		// then becomes nobody, mapped to nobody, and runs the test binary.
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Skip("setpriv (util-linux) is not installed")
		}
		script := fmt.Sprintf(`echo 0 > /proc/sys/user/max_user_namespaces && exec %s --reuid=%d --regid=%d --clear-groups "$@"`, setpriv, uid, gid)
		cmd.Args = append([]string{"/bin/sh", "-c", script, "sh", cmd.Path}, args...)
		cmd.Path = "/bin/sh"
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:                 syscall.CLONE_NEWUSER,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}, {ContainerID: int(uid), HostID: int(uid), Size: 1}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}, {ContainerID: int(gid), HostID: int(gid), Size: 1}},
			GidMappingsEnableSetgroups: true,
		}
	}
	return start(t, cmd, "a test run as nobody "+strings.Join(args, " "))
}
