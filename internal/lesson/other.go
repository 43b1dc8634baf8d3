//go:build !linux

package lesson

import (
	"fmt"
	"os"
	"runtime"
)

// NeedLinux is the whole program on systems other than Linux: it says the course
// needs Linux and exits 1. Each lesson's notlinux.go calls it, so that building a
// lesson elsewhere works and running it explains itself, instead of failing to
// compile with a screen of undefined names.
func NeedLinux() {
	fmt.Fprintf(os.Stderr, "This course runs on Linux only (it teaches System V shared memory as Linux implements it), and this is %s: use a Linux machine or VM, or WSL2 on Windows.\n", runtime.GOOS)
	os.Exit(1)
}
