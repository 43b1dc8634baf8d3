//go:build linux

package reexec

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// StartTied starts cmd so that the kernel sends it sig when this process dies,
// however it dies, kill -9 included: the child asks for it between fork and exec
// (cmd.SysProcAttr.Pdeathsig, PR_SET_PDEATHSIG in prctl(2)). A child that cleans up
// on sig then does so instead of running on, an orphan, after its parent has gone.
//
// The kernel sends the signal when the *thread* that forked the child ends, not
// when the process ends (prctl(2): "the parent" is the thread). A Go program's
// threads come and go while it runs: a goroutine that calls runtime.LockOSThread
// and returns without unlocking takes its thread with it, and any thread the
// runtime hands out may be that one later. So StartTied forks every child from one
// goroutine locked to a thread of its own that it never gives back: that thread,
// and the tie, end only with the process. It sets Pdeathsig and keeps whatever
// else cmd.SysProcAttr holds; it returns what cmd.Start returns.
func StartTied(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = sig
	done := make(chan error)
	starter() <- func() { done <- cmd.Start() }
	return <-done
}

// starter is the goroutine that starts every tied child, on its own thread for
// the life of the process. Starts take turns: each waits for the one before.
var starter = sync.OnceValue(func() chan<- func() {
	starts := make(chan func())
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the process
		for start := range starts {
			start()
		}
	}()
	return starts
})
