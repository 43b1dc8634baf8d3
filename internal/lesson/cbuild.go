//go:build linux

package lesson

import (
	"os"
	"os/exec"
)

// BuildC compiles the C file src into exe with gcc -O2 -Wall, and returns gcc's
// output. dir is a directory of the lesson's own (MkdirTemp): gcc writes its
// intermediate files there ($TMPDIR), not in /tmp, so that a signal that kills gcc
// mid-build leaves nothing the lesson's cleanup does not remove.
func BuildC(gcc, dir, src, exe string) ([]byte, error) {
	cmd := exec.Command(gcc, "-O2", "-Wall", "-o", exe, src)
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	return cmd.CombinedOutput()
}
