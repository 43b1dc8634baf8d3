//go:build linux

package fastring_test

import (
	"fmt"

	"github.com/learn-sysv/shm-course/06-sync/fastring"
)

// A ring asked for 5000 bytes gets 8192: capacities are powers of two, so that a
// stream position becomes an offset with one AND. The segment adds the 384-byte
// header; both semaphores start at 0, nobody asleep.
func ExampleLayout() {
	size, sems := fastring.Layout(5000)
	fmt.Println(fastring.Capacity(5000), size, sems)
	// Output: 8192 8576 [0 0]
}
