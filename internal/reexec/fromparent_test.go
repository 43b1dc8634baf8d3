//go:build linux

package reexec

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envPrintFromParent makes this test binary, run again, print FromParent and exit.
const envPrintFromParent = "REEXEC_TEST_PRINT_FROM_PARENT"

func TestMain(m *testing.M) {
	tiedRole()
	if os.Getenv(envPrintFromParent) == "1" {
		fmt.Println(FromParent())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestFromParent(t *testing.T) {
	viaCommand, err := Command()
	require.NoError(t, err)
	viaCommand.Env = append(viaCommand.Env, envPrintFromParent+"=1")

	typed := exec.Command(os.Args[0]) // what a person gets: no marker at all
	typed.Env = append(withoutParent(), envPrintFromParent+"=1")

	forged := exec.Command(os.Args[0]) // a marker that names another process
	forged.Env = append(withoutParent(), envPrintFromParent+"=1", EnvParent+"=1")

	grandchild := exec.Command("sh", "-c", `exec sh -c "$0"`, os.Args[0]) // inherits the marker, other parent
	grandchild.Env = viaCommand.Env

	for _, tc := range []struct {
		name string
		cmd  *exec.Cmd
		want string
	}{
		{"started by Command", viaCommand, "true"},
		{"typed by a person", typed, "false"},
		{"marker naming another pid", forged, "false"},
		{"marker inherited through another process", grandchild, "false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.cmd.Output()
			require.NoError(t, err)
			assert.Equal(t, tc.want, strings.TrimSpace(string(out)))
		})
	}
}

func TestCommandAsCarriesTheMarker(t *testing.T) {
	cmd, err := CommandAs(65534, 65534)
	require.NoError(t, err)
	defer Cleanup()
	assert.Contains(t, cmd.Env, fmt.Sprintf("%s=%d", EnvParent, os.Getpid()))
}

func withoutParent() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, EnvParent+"=") {
			env = append(env, kv)
		}
	}
	return env
}
