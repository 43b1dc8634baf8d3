//go:build linux

package main

// The errors shmctl gives, caused on purpose.

import "golang.org/x/sys/unix"

// provokeErrors shows the errors a learner can cause on purpose.
func (t *tourState) provokeErrors() error {
	l := t.l
	l.Step("Errors: EINVAL and EFAULT")
	var ds unix.SysvShmDesc
	for _, c := range []struct {
		call string
		id   int
		cmd  int
		why  string
	}{
		{"shmctl(%d, 99, &buf)", t.id, 99, "99 is no command, though the segment exists"},
		{"shmctl(%d, IPC_STAT, &buf)", -1, unix.IPC_STAT, "a negative id is never valid"},
	} {
		l.Call(c.call, c.id)
		_, err := unix.SysvShmCtl(c.id, c.cmd, &ds)
		l.Result("%s: %s", errText(err), c.why)
	}
	// EFAULT: buf points where nothing is mapped (address 1, in the never-mapped
	// first page). The kernel checks the pointer; nothing in this process is touched.
	for _, cmd := range []struct {
		name string
		cmd  int
	}{{"IPC_STAT", unix.IPC_STAT}, {"IPC_SET", unix.IPC_SET}} {
		l.Call("shmctl(%d, %s, (struct shmid_ds *)1)", t.id, cmd.name)
		_, _, errno := unix.Syscall(unix.SYS_SHMCTL, uintptr(t.id), uintptr(cmd.cmd), 1)
		l.Result("%s: buf is not an address this process can use", errText(errnoOrNil(errno)))
	}
	l.Say("EIDRM means the segment was destroyed between the kernel finding it and locking it:")
	l.Say("a race you cannot provoke reliably. A segment already gone gives EINVAL, as the removed")
	l.Say("id did in \"How ids are made\".")
	return nil
}
