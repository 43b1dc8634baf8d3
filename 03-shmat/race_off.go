//go:build linux && !race

package main

// raceEnabled says whether this program was built with -race.
const raceEnabled = false
