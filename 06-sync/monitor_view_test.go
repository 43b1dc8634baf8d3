//go:build linux

package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRingBar draws used ranges, plain and wrapped past the end of the ring, on
// rings with as many cells as positions (the semring's slots) and with fewer (the
// fast ring's bytes, or more slots than fit): a cell is filled if any position in
// it is used, and only then.
func TestRingBar(t *testing.T) {
	const lap = 32768 // the fast ring's default capacity
	tests := []struct {
		name       string
		width      int // cells wide (one column each below 3 columns a cell)
		size       int
		from, used uint64
		want       string // the cells: # filled, . empty
	}{
		{"empty", 8, 8, 3, 0, "........"},
		{"full", 8, 8, 3, 8, "########"},
		{"slots, plain", 8, 8, 2, 3, "..###..."},
		{"slots, wrapped", 8, 8, 6, 4, "##....##"},
		{"slots, all but one, wrapped", 8, 8, 5, 7, "####.###"},
		{"slots, a later lap", 8, 8, 8*1000 + 6, 4, "##....##"},
		// 33 cells of 993 bytes or so: the bar the report showed as one filled cell.
		// head 32712 and tail 31936 lie in the last cell; the 31,992 bytes in flight
		// run from the head past the end of the buffer, round to the tail.
		{"bytes, nearly full, head and tail in one cell", 33, lap, 10*lap + 32712, 31992, strings.Repeat("#", 33)},
		{"bytes, wrapped, from the last cell into the first", 33, lap, 32000, 1500, "#" + strings.Repeat(".", 31) + "#"},
		{"bytes, inside one cell", 33, lap, 100, 10, "#" + strings.Repeat(".", 32)},
		{"bytes, up to the end exactly", 33, lap, lap - 10, 10, strings.Repeat(".", 32) + "#"},
		// 100 slots in 20 cells of 5: one free slot, in the cell of the head.
		{"slots in shared cells, nearly full", 20, 100, 98, 99, strings.Repeat("#", 20)},
		{"slots in shared cells, wrapped", 20, 100, 97, 6, "#" + strings.Repeat(".", 18) + "#"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bar, _ := ringBar(tt.width, tt.size, tt.from, tt.used, 0, 0)
			got := strings.NewReplacer("█", "#", "░", ".").Replace(strings.Trim(bar, "[]"))
			assert.Equal(t, tt.want, got, "from %d (%d in the ring), %d used of %d", tt.from, tt.from%uint64(tt.size), tt.used, tt.size)
		})
	}
}

// TestRingBarMarks: the producer's and the consumer's marks stand under the cells
// of their positions, a star where they share one.
func TestRingBarMarks(t *testing.T) {
	tests := []struct {
		name      string
		p, c      uint64
		wantMarks string
	}{
		{"apart", 5, 2, "   C  P"},
		{"a lap apart, same cell", 8 + 4, 4, "     *"},
		{"wrapped", 8 + 1, 7, "  P     C"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, marks := ringBar(8, 8, tt.c, tt.p-tt.c, tt.p, tt.c)
			assert.Equal(t, tt.wantMarks, marks)
		})
	}
}
