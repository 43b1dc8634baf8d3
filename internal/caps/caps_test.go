//go:build linux

package caps

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

func TestMain(m *testing.M) {
	if os.Getenv(envReport) != "" { // a process started by TestHasOverIPC
		fmt.Println(Has(unix.CAP_IPC_OWNER), HasOverIPC(unix.CAP_IPC_OWNER))
		os.Exit(0)
	}
	ipctest.Alongside() // private segments only
	ipctest.Main(m, nil)
}

// envReport makes this test binary print Has and HasOverIPC of CAP_IPC_OWNER.
const envReport = "CAPS_TEST_REPORT"

// HasOverIPC: root of a user namespace has CAP_IPC_OWNER in its effective set, but
// it counts only in an IPC namespace of its own (unshare -r --ipc), not in the one it
// came from (unshare -r). (Step 10 of 03-shmat run under unshare -r shows the
// kernel agreeing: read-write on a 0400 segment of its own is refused.)
func TestHasOverIPC(t *testing.T) {
	ipcOwner := Has(unix.CAP_IPC_OWNER)
	assert.Equal(t, ipcOwner, HasOverIPC(unix.CAP_IPC_OWNER), "outside a user namespace, what the set says")
	for _, tt := range []struct {
		name  string
		flags uintptr
		want  string
	}{
		{"unshare -r", syscall.CLONE_NEWUSER, "true false\n"},
		{"unshare -r --ipc", syscall.CLONE_NEWUSER | syscall.CLONE_NEWIPC, "true true\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), envReport+"=1")
			cmd.SysProcAttr = &syscall.SysProcAttr{
				Cloneflags:  tt.flags,
				UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
				GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
			}
			out, err := cmd.Output()
			if err != nil {
				t.Skipf("no user namespace here (%v)", err)
			}
			assert.Equal(t, tt.want, string(out), "Has, HasOverIPC")
		})
	}
}

// capEff reads the effective set from /proc/self/status, as a second witness.
func capEff(t *testing.T) uint64 {
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			require.NoError(t, err)
			return mask
		}
	}
	t.Fatal("/proc/self/status has no CapEff line")
	return 0
}

// Has agrees with /proc/self/status, bit by bit, whoever runs the test: all set for
// root on a machine, some for root in a container, none for an ordinary user.
func TestHasAgreesWithProc(t *testing.T) {
	mask := capEff(t)
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		assert.Equal(t, mask&(1<<c) != 0, Has(c), "capability %d", c)
	}
	assert.False(t, Has(-1))
	assert.False(t, Has(64))
	t.Logf("CapEff %016x; CAP_IPC_OWNER %v, CAP_SYS_ADMIN %v", mask, Has(unix.CAP_IPC_OWNER), Has(unix.CAP_SYS_ADMIN))
}

// What the package is for: the kernel lets a process attach its own segment of mode
// 0400 read-write only with CAP_IPC_OWNER.
func TestHasMatchesTheKernel(t *testing.T) {
	ipctest.NoLeaks(t)
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o400)
	require.NoError(t, err)
	defer func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) }()
	b, err := unix.SysvShmAttach(id, 0, 0)
	if err == nil {
		require.NoError(t, unix.SysvShmDetach(b))
	}
	assert.Equal(t, Has(unix.CAP_IPC_OWNER), err == nil, "read-write attach of a 0400 segment: %v", err)
}
