//go:build linux && race

package ipctest

// raceEnabled says that this test binary was built with -race.
const raceEnabled = true
