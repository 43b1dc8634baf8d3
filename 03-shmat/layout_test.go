//go:build linux

package main

import (
	"fmt"
	"math"
	"reflect"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

// newLaidOutSegment makes a segment, attaches it here and writes the lesson's header.
func newLaidOutSegment(t *testing.T, msg string) (int, []byte, *header) {
	t.Helper()
	id := ipctest.NewSegment(t, 4096, 0o600)
	b := ipctest.Attach(t, id, 0)
	h, err := writeMessage(b, msg)
	require.NoError(t, err)
	return id, b, h
}

func TestHeaderHoldsNoPointersAndFixedOffsets(t *testing.T) {
	typ := reflect.TypeOf(header{})
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		switch f.Type.Kind() {
		case reflect.Uint32, reflect.Uint64, reflect.Int32, reflect.Int64:
		default:
			t.Errorf("field %s is a %v: shared memory needs fixed-width numbers only", f.Name, f.Type)
		}
	}
	var h header
	tests := []struct {
		field  string
		offset uintptr
		want   uintptr
	}{
		{"Magic", unsafe.Offsetof(h.Magic), 0},
		{"Version", unsafe.Offsetof(h.Version), 4},
		{"Writes", unsafe.Offsetof(h.Writes), 8},
		{"MsgOff", unsafe.Offsetof(h.MsgOff), 16},
		{"MsgLen", unsafe.Offsetof(h.MsgLen), 20},
		{"ReplyOff", unsafe.Offsetof(h.ReplyOff), 24},
		{"ReplyLen", unsafe.Offsetof(h.ReplyLen), 28},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.offset, "offset of %s: both processes must agree on it", tt.field)
	}
	assert.Equal(t, uintptr(32), unsafe.Sizeof(h))
	assert.Zero(t, unsafe.Offsetof(h.Writes)%8, "a 64-bit atomic field must be 8-byte aligned")
	for _, off := range []uintptr{unsafe.Offsetof(h.Magic), unsafe.Offsetof(h.ReplyLen), flagOff, arrivedOff} {
		assert.Zero(t, off%4, "a 32-bit atomic field at %d must be 4-byte aligned", off)
	}
	assert.Zero(t, counterOff%8, "step 13's counter is a 64-bit field")
	assert.LessOrEqual(t, uintptr(headerSize), uintptr(msgOff), "the message must not overlap the header")
	assert.LessOrEqual(t, replyOff+maxText, labOff, "the reply must not overlap the lab")
	assert.LessOrEqual(t, appendOff+32, minSize, "the lab fits in minSize")
	assert.LessOrEqual(t, stringOff+16, appendOff, "step 14's words end where step 11's text starts")
}

func TestHeaderRefusesForeignBytes(t *testing.T) {
	b := alignedBytes(minSize)
	h, err := headerIn(b)
	require.NoError(t, err)
	assert.ErrorContains(t, h.check(), "magic is 0")
	_, err = writeMessage(b, "x")
	require.NoError(t, err)
	assert.NoError(t, h.check())
	h.Version = 2
	assert.ErrorContains(t, h.check(), "layout version 2")
	_, err = headerIn(alignedBytes(minSize - 1))
	assert.ErrorContains(t, err, "needs")
	_, err = headerIn(alignedBytes(minSize + 1)[1:])
	assert.ErrorContains(t, err, "not 8-byte aligned")
	// An offset written by another process is input, not fact: reading and writing check it.
	assert.Equal(t, "(bad offset 250, length 64)", text(b, 250, 64))
	assert.Equal(t, "(bad offset 4294967295, length 2)", text(b, math.MaxUint32, 2), "no uint32 overflow back into range")
	h.ReplyOff = uint32(len(b)) - 10
	assert.ErrorContains(t, writeReply(b, h, "x"), "leaves no room", "a reply offset near the end must not be written past the segment")
	h.ReplyOff = math.MaxUint32 - 10
	assert.ErrorContains(t, writeReply(b, h, "x"), "leaves no room", "an offset whose end overflows 32 bits")
	h.ReplyOff = replyOff
	require.NoError(t, writeReply(b, h, "in bounds"))
	assert.Equal(t, "in bounds", reply(b, h))
}

// TestWriteReplyReadsTheOffsetOnce: another process may change ReplyOff at any
// moment, so writeReply must check and use one value. The old code read the field
// twice (once to check, once to slice); built with -race (which keeps both reads)
// this test failed with "slice bounds out of range".
func TestWriteReplyReadsTheOffsetOnce(t *testing.T) {
	ipctest.NoLeaks(t)
	_, b, h := newLaidOutSegment(t, "x")

	stop, done := make(chan struct{}), make(chan struct{})
	go func() { // the other process: it flips the offset between in range and far out of it
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			atomic.StoreUint32(&h.ReplyOff, replyOff)
			atomic.StoreUint32(&h.ReplyOff, math.MaxUint32-10)
		}
	}()
	defer func() { close(stop); <-done }()

	end := time.Now().Add(time.Second)
	for i := 0; i < 1_000_000 && time.Now().Before(end); i++ {
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("writeReply panicked: %v", p)
				}
			}()
			_ = writeReply(b, h, "reply")
			return nil
		}()
		require.NoError(t, err, "iteration %d", i)
	}
}

func Example_text() {
	b := make([]byte, 8)
	copy(b, "abcdefgh")
	fmt.Println(text(b, 2, 3))
	fmt.Println(text(b, 6, 3))
	// Output:
	// cde
	// (bad offset 6, length 3)
}
