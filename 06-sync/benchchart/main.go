// Command benchchart draws the 06-sync benchmark as a picture: MB/s by message size
// for each transport of BenchmarkTransfer, on a log scale, as an SVG file that
// GitHub shows in the README. It reads `go test -bench` output and also prints the
// medians as the Markdown table the README has beside the chart.
//
//	go test -run '^$' -bench . -benchtime 0.5s -count 3 ./06-sync/ | tee 06-sync/bench.txt | go run ./06-sync/benchchart -o 06-sync/bench.svg
//	go run ./06-sync/benchchart -o 06-sync/bench.svg 06-sync/bench.txt
//
// Each point is the median of the runs of one benchmark (-count). Besides the
// benchmark lines, the input's "cpu:", "goos:" and "goarch:" lines name the
// machine under the title, and so does a "note:" line, if there is one (for
// example "note: quiet machine, load average 1.0").
//
// Why an SVG written by a program and not a Mermaid xychart: the values span four
// decades (17 to 57,000 MB/s) and need a log scale, and four series need a legend;
// Mermaid's xychart has neither.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

const usage = `usage: go run ./06-sync/benchchart [-o chart.svg] [bench.txt ...]

Reads 'go test -bench' output of ./06-sync/ (the files named, or standard input),
writes a chart of BenchmarkTransfer's MB/s by message size for every transport
(the median of each benchmark's runs) as SVG, and prints the medians as a
Markdown table on standard output.`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchchart", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("o", "06-sync/bench.svg", "where to write the chart")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, usage)
			fmt.Fprintln(stdout, "\nFlags:")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "benchchart: %v (run with -h for usage)\n", err)
		return 2
	}
	var in io.Reader = stdin
	if fs.NArg() > 0 {
		var readers []io.Reader
		for _, name := range fs.Args() {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintf(stderr, "benchchart: %v\n", err)
				return 1
			}
			defer f.Close()
			readers = append(readers, f)
		}
		in = io.MultiReader(readers...)
	}
	res, err := parse(in)
	if err == nil && len(res.transports) == 0 {
		err = errors.New("no BenchmarkTransfer results with MB/s in the input: run go test -run '^$' -bench Transfer ./06-sync/")
	}
	if err != nil {
		fmt.Fprintf(stderr, "benchchart: %v\n", err)
		return 1
	}
	if err := os.WriteFile(*out, []byte(res.svg()), 0o644); err != nil {
		fmt.Fprintf(stderr, "benchchart: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, res.table())
	return 0
}

// results are the benchmark's runs, by transport and message size.
type results struct {
	transports []string // in the order of the input: the benchmark's own order
	sizes      []int    // message sizes in bytes, ascending
	mbps       map[cell][]float64
	nsPerOp    map[cell][]float64
	roundTrip  map[string][]float64 // BenchmarkPingPong ns/op by transport
	rtOrder    []string
	config     []string // "cpu: ...", "goos: ...", "note: ..." lines, for the caption
}

type cell struct {
	transport string
	size      int
}

// parse reads go test -bench output: lines like
//
//	BenchmarkTransfer/semring/64B-2   	  318009	      3776 ns/op	  16.95 MB/s
//	BenchmarkPingPong/fast-2          	 4128394	       260.1 ns/op
func parse(r io.Reader) (*results, error) {
	res := &results{mbps: map[cell][]float64{}, nsPerOp: map[cell][]float64{}, roundTrip: map[string][]float64{}}
	seenSize := map[int]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		for _, key := range []string{"cpu:", "goos:", "goarch:", "note:"} {
			if strings.HasPrefix(line, key) && !contains(res.config, line) {
				res.config = append(res.config, line)
			}
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // the GOMAXPROCS suffix
			}
		}
		metrics := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("line %q: %q is not a number", line, f[i])
			}
			metrics[f[i+1]] = v
		}
		parts := strings.Split(name, "/")
		switch {
		case parts[0] == "BenchmarkTransfer" && len(parts) == 3:
			size, err := parseSize(parts[2])
			if err != nil {
				return nil, fmt.Errorf("line %q: %v", line, err)
			}
			mb, ok := metrics["MB/s"]
			if !ok {
				continue
			}
			c := cell{parts[1], size}
			if !contains(res.transports, c.transport) {
				res.transports = append(res.transports, c.transport)
			}
			if !seenSize[size] {
				seenSize[size] = true
				res.sizes = append(res.sizes, size)
			}
			res.mbps[c] = append(res.mbps[c], mb)
			res.nsPerOp[c] = append(res.nsPerOp[c], metrics["ns/op"])
		case parts[0] == "BenchmarkPingPong" && len(parts) == 2:
			if !contains(res.rtOrder, parts[1]) {
				res.rtOrder = append(res.rtOrder, parts[1])
			}
			res.roundTrip[parts[1]] = append(res.roundTrip[parts[1]], metrics["ns/op"])
		}
	}
	sort.Ints(res.sizes)
	return res, sc.Err()
}

// parseSize reads the benchmark's size names: 64B, 4KiB, 64KiB, 1MiB.
func parseSize(s string) (int, error) {
	for _, u := range []struct {
		suffix string
		scale  int
	}{{"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil {
				return 0, fmt.Errorf("size %q: want a number and B, KiB or MiB", s)
			}
			return v * u.scale, nil
		}
	}
	return 0, fmt.Errorf("size %q: want a number and B, KiB or MiB", s)
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// median of the runs; the mean of the middle two for an even number.
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// runs is how many runs each benchmark had: "median of 3 runs", a range if they
// differ, or nothing for one run each.
func (res *results) runs() string {
	lo, hi := math.MaxInt, 0
	for _, v := range res.mbps {
		lo, hi = min(lo, len(v)), max(hi, len(v))
	}
	switch {
	case hi <= 1:
		return ""
	case lo == hi:
		return fmt.Sprintf("median of %d runs", hi)
	}
	return fmt.Sprintf("median of %d to %d runs", lo, hi)
}

// table is the Markdown table of medians: MB/s, and time per message in brackets.
func (res *results) table() string {
	var b strings.Builder
	b.WriteString("| size |")
	for _, t := range res.transports {
		fmt.Fprintf(&b, " %s |", t)
	}
	ratio := contains(res.transports, "fast") && contains(res.transports, "pipe")
	if ratio {
		b.WriteString(" fast ÷ pipe |")
	}
	b.WriteString("\n|---|")
	for range res.transports {
		b.WriteString("---:|")
	}
	if ratio {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, size := range res.sizes {
		fmt.Fprintf(&b, "| %s |", sizeName(size))
		for _, t := range res.transports {
			c := cell{t, size}
			if len(res.mbps[c]) == 0 {
				b.WriteString(" – |")
				continue
			}
			fmt.Fprintf(&b, " %s (%s) |", thousands(median(res.mbps[c])), duration(median(res.nsPerOp[c])))
		}
		if ratio {
			fmt.Fprintf(&b, " %.1f× |", median(res.mbps[cell{"fast", size}])/median(res.mbps[cell{"pipe", size}]))
		}
		b.WriteString("\n")
	}
	if len(res.rtOrder) > 0 {
		b.WriteString("\n| round trip, 64 B (`BenchmarkPingPong`) | |\n|---|---:|\n")
		for _, t := range res.rtOrder {
			fmt.Fprintf(&b, "| `%s` | %s |\n", t, duration(median(res.roundTrip[t])))
		}
	}
	if runs := res.runs(); runs != "" {
		fmt.Fprintf(&b, "\n(%s)\n", runs)
	}
	return b.String()
}

// thousands formats v rounded to a whole number, with thousands separators.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// duration formats a time per message or round trip: 714 ns, 1.8 µs, 190 µs.
func duration(ns float64) string {
	switch {
	case ns < 1000:
		return thousands(ns) + " ns"
	case ns < 100000:
		return fmt.Sprintf("%.1f µs", ns/1000)
	}
	return thousands(ns/1000) + " µs"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
