//go:build linux

package reexec

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCommandAsCopiesTheExecutableForOthers(t *testing.T) {
	for round := 1; round <= 2; round++ { // a second copy after Cleanup must work too
		cmd, err := CommandAs(65534, 65534, "-test.run=NONE")
		require.NoError(t, err)
		info, err := os.Stat(cmd.Path)
		require.NoError(t, err, "round %d: the copy must exist", round)
		assert.Equal(t, os.FileMode(0o755), info.Mode().Perm(), "everyone must be able to run the copy")
		dir, err := os.Stat(shared.dir)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o755), dir.Mode().Perm(), "everyone must be able to enter its directory")
		assert.Equal(t, uint32(65534), cmd.SysProcAttr.Credential.Uid)
		Cleanup()
		_, err = os.Stat(cmd.Path)
		assert.True(t, os.IsNotExist(err), "Cleanup must remove the copy")
	}
}

func TestMapped(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, uidMap string
		id           uint32
		want         bool
	}{
		{"the whole range (no user namespace)", "         0          0 4294967295\n", 65534, true},
		{"unshare -r: only root, as the caller", "         0       1001          1\n", 65534, false},
		{"unshare -r: root itself", "         0       1001          1\n", 0, true},
		{"two ranges, the second", "0 1001 1\n1 100000 65536\n", 65534, true},
		{"just past a range", "0 100000 65534\n", 65534, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(dir, strconv.Itoa(i))
			require.NoError(t, os.WriteFile(f, []byte(tt.uidMap), 0o600))
			assert.Equal(t, tt.want, mapped(f, tt.id))
		})
	}
	assert.True(t, mapped(filepath.Join(dir, "none"), 65534), "no map file: a kernel without user namespaces")
}

// CanRunAs as this process is, and as root of a user namespace that maps only root
// (what unshare -r makes): there nobody does not exist, and CommandAs's exec would
// fail with EPERM.
func TestCanRunAs(t *testing.T) {
	uid, gid := Nobody()
	if os.Getenv("REEXEC_TEST_IN_USERNS") == "1" {
		if CanRunAs(uid, gid) || !CanRunAs(0, 0) {
			os.Exit(3)
		}
		os.Exit(0)
	}
	assert.Equal(t, os.Geteuid() == 0, CanRunAs(uid, gid), "outside a user namespace: root may, others may not")

	cmd := exec.Command("/proc/self/exe", "-test.run=^TestCanRunAs$")
	cmd.Env = append(os.Environ(), "REEXEC_TEST_IN_USERNS=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
	}
	out, err := cmd.CombinedOutput()
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EINVAL) {
		t.Skipf("no user namespace here (%v)", err)
	}
	assert.NoError(t, err, "inside unshare -r: nobody cannot be run as, root can\n%s", out)
}
