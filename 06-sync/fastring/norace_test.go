//go:build linux && !race

package fastring

// raceEnabled: this test binary was built with -race.
const raceEnabled = false
