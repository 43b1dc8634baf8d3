package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// No ipctest.Main here: this package makes no System V object, so it need not wait
// for the course-wide test lock.

// Two runs of part of the benchmark, as go test -bench -count 2 prints them.
const twoRuns = `goos: linux
goarch: amd64
pkg: github.com/learn-sysv/shm-course/06-sync
cpu: AMD EPYC 9R14
BenchmarkTransfer/semring/64B-2         	  300000	      3700 ns/op	  17.30 MB/s
BenchmarkTransfer/semring/1MiB-2        	    3000	    190000 ns/op	5518.00 MB/s
BenchmarkTransfer/pipe/64B-2            	 1000000	      1100 ns/op	  58.18 MB/s
BenchmarkTransfer/pipe/1MiB-2           	    1500	    386000 ns/op	2716.00 MB/s
BenchmarkTransfer/semring/64B-2         	  300000	      3900 ns/op	  16.41 MB/s
BenchmarkTransfer/semring/1MiB-2        	    3000	    180000 ns/op	5825.00 MB/s
BenchmarkTransfer/pipe/64B-2            	 1000000	      1000 ns/op	  64.00 MB/s
BenchmarkTransfer/pipe/1MiB-2           	    1500	    390000 ns/op	2688.00 MB/s
BenchmarkPingPong/semring-2             	  100000	     11700 ns/op
BenchmarkPingPong/semring-2             	  100000	     11900 ns/op
PASS
ok  	github.com/learn-sysv/shm-course/06-sync	12.345s
`

func TestParse(t *testing.T) {
	res, err := parse(strings.NewReader(twoRuns))
	require.NoError(t, err)
	assert.Equal(t, []string{"semring", "pipe"}, res.transports, "in the benchmark's order")
	assert.Equal(t, []int{64, 1 << 20}, res.sizes)
	assert.Equal(t, []float64{17.30, 16.41}, res.mbps[cell{"semring", 64}])
	assert.InDelta(t, (17.30+16.41)/2, median(res.mbps[cell{"semring", 64}]), 1e-9, "the mean of the middle two")
	assert.Equal(t, "median of 2 runs", res.runs())
	assert.Equal(t, []string{"goos: linux", "goarch: amd64", "cpu: AMD EPYC 9R14"}, res.config)
	assert.Equal(t, []string{"AMD EPYC 9R14 · linux/amd64 · BenchmarkTransfer, median of 2 runs"}, res.caption())
	assert.Equal(t, []float64{11700, 11900}, res.roundTrip["semring"])
}

func TestMedian(t *testing.T) {
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 3, 2}))
	assert.Equal(t, 7.0, median([]float64{7}))
}

func TestTable(t *testing.T) {
	res, err := parse(strings.NewReader(twoRuns))
	require.NoError(t, err)
	assert.Equal(t, `| size | semring | pipe |
|---|---:|---:|
| 64 B | 17 (3.8 µs) | 61 (1.1 µs) |
| 1 MiB | 5,672 (185 µs) | 2,702 (388 µs) |

| round trip, 64 B (`+"`BenchmarkPingPong`"+`) | |
|---|---:|
| `+"`semring`"+` | 11.8 µs |

(median of 2 runs)
`, res.table())
}

func TestSVG(t *testing.T) {
	res, err := parse(strings.NewReader(twoRuns))
	require.NoError(t, err)
	svg := res.svg()
	assertWellFormed(t, svg)
	assert.Equal(t, 2, strings.Count(svg, "<polyline "), "a line per transport")
	assert.Contains(t, svg, ">semring</text>", "in the legend")
	assert.Contains(t, svg, ">pipe</text>")
	for _, label := range []string{">10</text>", ">100</text>", ">1,000</text>", ">10,000</text>"} {
		assert.Contains(t, svg, label, "a decade from below the smallest value (16) to above the largest (5,672)")
	}
	assert.NotContains(t, svg, ">100,000</text>")
	assert.Contains(t, svg, "semring: 17 MB/s at 64 B, 5,672 MB/s at 1 MiB", "the values in words, for screen readers")
}

// TestChartMatchesItsData: bench.svg is what the command draws from bench.txt, so
// the chart in the README shows the numbers in the file beside it.
func TestChartMatchesItsData(t *testing.T) {
	want, err := os.ReadFile("../bench.svg")
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "bench.svg")
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"-o", out, "../bench.txt"}, nil, &stdout, &stderr), stderr.String())
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "06-sync/bench.svg is out of date: regenerate it with the command in 06-sync/README.md")
	assertWellFormed(t, string(got))
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	plain := strings.ReplaceAll(string(readme), "**", "") // the README sets fast and the ratio in bold
	for _, row := range strings.Split(stdout.String(), "\n") {
		if strings.HasSuffix(row, "× |") {
			assert.Contains(t, plain, row, "06-sync/README.md's table of the run in bench.txt must show its medians")
		}
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stdin  string
		status int
		stderr string
	}{
		{"no results", []string{"-o", "OUT"}, "PASS\n", 1, "benchchart: no BenchmarkTransfer results with MB/s in the input: run go test -run '^$' -bench Transfer ./06-sync/\n"},
		{"no such file", []string{"-o", "OUT", "does-not-exist.txt"}, "", 1, "benchchart: open does-not-exist.txt: no such file or directory\n"},
		{"bad flag", []string{"-x"}, "", 2, "benchchart: flag provided but not defined: -x (run with -h for usage)\n"},
		{"bad size", []string{"-o", "OUT"}, "BenchmarkTransfer/fast/64XB-2 1 1 ns/op 1 MB/s\n", 1, "benchchart: line \"BenchmarkTransfer/fast/64XB-2 1 1 ns/op 1 MB/s\": size \"64XB\": want a number and B, KiB or MiB\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "chart.svg")
			for i, a := range tt.args {
				if a == "OUT" {
					tt.args[i] = out
				}
			}
			var stdout, stderr bytes.Buffer
			assert.Equal(t, tt.status, run(tt.args, strings.NewReader(tt.stdin), &stdout, &stderr))
			assert.Equal(t, tt.stderr, stderr.String())
			assert.NoFileExists(t, out)
		})
	}
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, run([]string{"-h"}, nil, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "usage: go run ./06-sync/benchchart")
	assert.Empty(t, stderr.String())
}

func assertWellFormed(t *testing.T, svg string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if !assert.NoError(t, err, "the SVG is well-formed XML") {
			return
		}
	}
}
