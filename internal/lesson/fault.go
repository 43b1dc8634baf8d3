//go:build linux

package lesson

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// FaultError is a memory fault (SIGSEGV or SIGBUS) that RecoverFault caught: an
// access to an address with no mapping, or with a mapping that forbids it, such
// as a write through a SHM_RDONLY attachment or a read after shmdt.
type FaultError struct {
	Addr uintptr // the address the faulting instruction touched
	Msg  string  // the runtime's message: "runtime error: invalid memory address or nil pointer dereference"
}

func (e *FaultError) Error() string { return fmt.Sprintf("%s (address %#x)", e.Msg, e.Addr) }

// RecoverFault runs fn with debug.SetPanicOnFault(true), so that a memory fault
// in fn becomes a panic instead of killing the process, recovers that panic and
// returns it as a *FaultError. Any other panic goes on. It returns nil if fn
// returns normally.
//
// Without it, the Go runtime treats an unexpected fault as fatal: it prints
// "unexpected fault address", "fatal error: fault" and every goroutine's stack,
// and exits with status 2; recover() cannot catch that. SetPanicOnFault applies to
// the calling goroutine only, so the fault must happen in fn itself, not in a
// goroutine fn starts. RecoverFault restores the previous setting on return.
func RecoverFault(fn func()) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true)) // on now, restored on return
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		// The runtime's fault panics are runtime.Errors that know the faulting address.
		if re, ok := p.(interface {
			runtime.Error
			Addr() uintptr
		}); ok {
			err = &FaultError{Addr: re.Addr(), Msg: re.Error()}
			return
		}
		panic(p)
	}()
	fn()
	return nil
}
