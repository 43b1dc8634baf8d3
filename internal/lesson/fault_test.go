//go:build linux

package lesson

import (
	"os"
	"runtime/debug"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

// mmapPage maps one anonymous page with protection prot, unmapped when the test ends.
func mmapPage(t *testing.T, prot int) []byte {
	t.Helper()
	b, err := unix.Mmap(-1, 0, os.Getpagesize(), prot, unix.MAP_PRIVATE|unix.MAP_ANON)
	require.NoError(t, err)
	t.Cleanup(func() { _ = unix.Munmap(b) })
	return b
}

func TestRecoverFault(t *testing.T) {
	ipctest.NoLeaks(t)
	none := mmapPage(t, unix.PROT_NONE)
	readable := mmapPage(t, unix.PROT_READ)
	id := ipctest.NewSegment(t, 4096, 0o600)
	shmRdonly := ipctest.Attach(t, id, unix.SHM_RDONLY)
	writable := ipctest.Attach(t, id, 0)
	var sink byte

	tests := []struct {
		name      string
		b         []byte
		touch     func(b []byte)
		wantFault bool
	}{
		{"read a PROT_NONE page", none, func(b []byte) { sink = b[0] }, true},
		{"write a PROT_READ page", readable, func(b []byte) { b[0] = 'X' }, true},
		{"write through a SHM_RDONLY attachment", shmRdonly, func(b []byte) { b[1] = 'X' }, true},
		{"read a PROT_READ page", readable, func(b []byte) { sink = b[0] }, false},
		{"write a read-write attachment", writable, func(b []byte) { b[0] = 'w' }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := RecoverFault(func() { tt.touch(tt.b) })
			if !tt.wantFault {
				assert.NoError(t, err)
				return
			}
			var fault *FaultError
			require.ErrorAs(t, err, &fault)
			page := uintptr(unsafe.Pointer(&tt.b[0]))
			// The kernel reports the faulting address; with b[1] it is one past the page start.
			assert.GreaterOrEqual(t, fault.Addr, page)
			assert.Less(t, fault.Addr, page+2, "the address the instruction touched")
			assert.Contains(t, fault.Msg, "runtime error")
			assert.Contains(t, err.Error(), "(address 0x")
		})
	}
	_ = sink
	assert.Equal(t, byte('w'), shmRdonly[0], "the read-only attachment sees the other one's write, not its own")
	assert.False(t, debug.SetPanicOnFault(false), "RecoverFault restores SetPanicOnFault")
}

func TestRecoverFaultLetsOtherPanicsGoOn(t *testing.T) {
	assert.PanicsWithValue(t, "not a fault", func() {
		_ = RecoverFault(func() { panic("not a fault") })
	})
	assert.False(t, debug.SetPanicOnFault(false), "restored even when a panic goes on")
}
