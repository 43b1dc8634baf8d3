//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README shows what `go build -gcflags=-S ... | grep ...` prints for waitPlain,
// the words on the right added and the paths shortened to "...". Run the command as
// the README gives it: without those, a learner must see exactly these lines (an
// edit to polling.go moves the line numbers; another compiler, other code).
func TestReadmeAssemblyIsWhatTheCommandPrints(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)```\n\\$ (go build -o /dev/null -gcflags=-S [^\n]+)\n(.*?)```").FindSubmatch(readme)
	require.NotNil(t, m, "README.md shows the command and its output")
	command, shown := string(m[1]), string(m[2])
	want := regexp.MustCompile(`the compiler \((go[0-9.]+), (\w+)\)`).FindStringSubmatch(string(readme))
	require.NotNil(t, want, "README.md names the compiler its listing comes from")
	if runtime.Version() != want[1] || runtime.GOARCH != want[2] {
		t.Skipf("the listing is %s on %s; this is %s on %s", want[1], want[2], runtime.Version(), runtime.GOARCH)
	}
	assert.Contains(t, command, "./03-shmat", "run from the repository root")
	assert.Equal(t, "go build -o /dev/null -gcflags=-S ./03-shmat 2>&1 | grep -A14 '^main.waitPlain STEXT' | grep -v DATA",
		command, "the command the lesson prints (polling.go)")

	root, err := filepath.Abs("..")
	require.NoError(t, err)
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=", "PATH="+filepath.Join(runtime.GOROOT(), "bin")+":"+os.Getenv("PATH")) // as a learner types it
	out, err := cmd.Output()
	require.NoError(t, err)
	got := strings.ReplaceAll(string(out), filepath.Join(root, "03-shmat")+"/", ".../")

	annotation := regexp.MustCompile(`(?m)^(\t0x\w+ \d+ \(.*?) {2,}\S.*$`) // an instruction, then our words
	assert.Equal(t, annotation.ReplaceAllString(shown, "$1"), got)
}
