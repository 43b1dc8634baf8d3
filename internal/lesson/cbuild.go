//go:build linux

package lesson

import (
	"bytes"
	"os"
	"os/exec"
)

// BuildC compiles the C file src into exe with gcc -O2 -Wall, and returns gcc's
// output. dir is a directory of the lesson's own (MkdirTemp): gcc writes its
// intermediate files there ($TMPDIR), not in /tmp. gcc is started with Keep, so
// that a signal while it runs stops it (and waits for it) before the older cleanup
// that removes dir: nothing is left in /tmp, and gcc writes nothing into dir while
// it is being removed.
func BuildC(l *Lesson, gcc, dir, src, exe string) ([]byte, error) {
	var out bytes.Buffer
	cmd := exec.Command(gcc, "-O2", "-Wall", "-o", exe, src)
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	finished := make(chan struct{})
	var err error
	keepErr := l.Keep("stop gcc", func() (func() error, error) {
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		go func() { err = cmd.Wait(); close(finished) }()
		return func() error {
			_ = cmd.Process.Kill() // nothing, once gcc has been waited for
			<-finished
			return nil
		}, nil
	})
	if keepErr != nil {
		return nil, keepErr
	}
	<-finished
	return out.Bytes(), err
}
