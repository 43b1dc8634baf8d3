//go:build linux

// Command launch is a fixture of ipctest's TestCtrlCDuringGoTest (see package
// fixture): "launch" starts two copies of itself that hold objects ("hold") and
// stops them on SIGINT or SIGTERM, as 06-sync's launcher does; "stubborn" holds
// objects and ignores those signals.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/learn-sysv/shm-course/internal/ipctest/testdata/ctrlc/fixture"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

func main() { os.Exit(program(os.Args[1:])) }

func program(args []string) int {
	if len(args) == 1 && (args[0] == "hold" || args[0] == "stubborn") {
		return fixture.Hold(args[0] == "stubborn")
	}
	if len(args) == 1 && args[0] == "launch" {
		return launch()
	}
	fmt.Fprintln(os.Stderr, "usage: launch launch|hold|stubborn")
	return 2
}

// launch starts two holders and waits for them; a signal is passed on to them as
// SIGTERM, and launch exits for it once they have ended.
func launch() int {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	var children []*exec.Cmd
	ended := make(chan struct{}, 2)
	for i := 0; i < 2; i++ {
		cmd, err := reexec.Command("hold")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		children = append(children, cmd)
		go func() { _ = cmd.Wait(); ended <- struct{}{} }()
	}
	status := 0
	for n := 0; n < len(children); n++ {
		select {
		case sig := <-signals:
			status = 128 + int(sig.(syscall.Signal))
			for _, c := range children {
				_ = c.Process.Signal(syscall.SIGTERM)
			}
			n--
		case <-ended:
		}
	}
	return status
}
