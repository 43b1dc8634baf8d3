//go:build linux

package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

// An id is seq × 32768 + index, where index is the slot SHM_STAT takes: the kernel
// agrees, for a segment of ours and for the one the loop keeps.
func TestIDIsSequenceAndSlot(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 1, 0o600)
	_, index := splitID(id)
	got, _, err := statIndex(index)
	require.NoError(t, err, "SHM_STAT(%d)", index)
	assert.Equal(t, id, got, "SHM_STAT of slot id mod %d returns the id", 1<<idShift())
}

// The loop makes segments until a slot comes round again and keeps that one; the
// removed segment that had the slot before gives EINVAL, the new one answers; stop
// removes it.
func TestChurnUntilASlotRepeats(t *testing.T) {
	ipctest.NoLeaks(t)
	c := &churn{kept: -1}
	t.Cleanup(func() { _ = c.stop() })
	ids, err := c.untilASlotRepeats(maxChurn)
	require.NoError(t, err)
	require.GreaterOrEqual(t, c.kept, 0, "a slot came round within %d segments", maxChurn)
	require.Equal(t, c.kept, ids[len(ids)-1])

	_, slot := splitID(c.kept)
	old := -1
	for _, id := range ids[:len(ids)-1] {
		if _, i := splitID(id); i == slot {
			old = id
		}
	}
	require.NotEqual(t, -1, old, "an earlier id of the loop had slot %d", slot)
	oldSeq, _ := splitID(old)
	newSeq, _ := splitID(c.kept)
	assert.NotEqual(t, oldSeq, newSeq, "same slot, another sequence number")
	_, err = stat(old)
	assert.ErrorIs(t, err, unix.EINVAL, "the removed segment's id names nothing")
	_, err = stat(c.kept)
	assert.NoError(t, err, "the new id reaches the segment in the slot")
	got, _, err := statIndex(slot)
	require.NoError(t, err)
	assert.Equal(t, c.kept, got, "SHM_STAT(%d) is the kept segment", slot)

	require.NoError(t, c.stop())
	_, err = stat(ids[len(ids)-1])
	assert.ErrorIs(t, err, unix.EINVAL, "stop removed the kept segment")
	_, _, err = c.one(map[int]bool{})
	assert.Error(t, err, "no segment is made after stop")
}
