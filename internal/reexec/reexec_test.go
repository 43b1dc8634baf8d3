//go:build linux

package reexec

import (
	"os"
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
