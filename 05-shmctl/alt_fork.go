//go:build linux

package main

// Appendix step 5: MAP_SHARED|MAP_ANONYMOUS shared across fork(2), for real, by a
// small C program (c/anon_shared.c, built into this program with go:embed) where gcc
// exists. A Go program cannot do this itself (alt_memfd.go says why).

import (
	_ "embed"
	"errors"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

//go:embed c/anon_shared.c
var anonSharedC []byte

// forkInC builds c/anon_shared.c with gcc and runs it: it maps anonymous shared
// memory, forks, and the two processes exchange messages through it.
func (a *altState) forkInC() error {
	l := a.l
	l.Step("MAP_SHARED|MAP_ANONYMOUS and fork, in C")
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		l.Say("gcc is not installed, so the C program c/anon_shared.c cannot be built and this step")
		l.Say("is skipped. With gcc (apt-get install gcc), run this again, or by hand:")
		l.Look("gcc -o /tmp/anon_shared 05-shmctl/c/anon_shared.c && /tmp/anon_shared")
		return nil
	}
	dir, err := lesson.MkdirTemp(l, "05-shmctl-c-")
	if err != nil {
		return err
	}
	src, exe := filepath.Join(dir, "anon_shared.c"), filepath.Join(dir, "anon_shared")
	if err := os.WriteFile(src, anonSharedC, 0o600); err != nil {
		return err
	}
	l.Call("gcc -O2 -Wall -o %s 05-shmctl/c/anon_shared.c", exe)
	if out, err := lesson.BuildC(l, gcc, dir, src, exe); err != nil {
		return errors.New("gcc failed to build c/anon_shared.c: " + string(out))
	}
	l.Call("%s    (a C program: its lines and its child's come through it)", exe)
	c, err := startChild(l, exec.Command(exe))
	if err != nil {
		return err
	}
	if err := c.Finish(); err != nil {
		return errors.New("c/anon_shared.c: " + err.Error())
	}
	l.Say("The child was made by fork and has the mapping at the same address. Such memory is")
	l.Say("shared with children forked after the mmap, and nobody else: no name, no descriptor.")
	return nil
}
