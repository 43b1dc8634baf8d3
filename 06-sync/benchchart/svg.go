package main

import (
	"fmt"
	"math"
	"strings"
)

// The chart's geometry, in SVG user units (pixels at 100%).
const (
	width, height = 760, 470
	plotLeft      = 90
	plotRight     = 560
	plotTop       = 95
	plotBottom    = 400
	legendX       = 590
)

// Series styles: the Okabe-Ito colours, which stay apart for the common kinds of
// colour blindness, and a marker and a dash pattern each, so that the lines also
// stay apart in grey.
var styles = []struct {
	color, dash, marker string
}{
	{"#0072B2", "", "circle"},
	{"#D55E00", "", "square"},
	{"#009E73", "7 4", "triangle"},
	{"#CC79A7", "2 3", "diamond"},
	{"#E69F00", "7 3 2 3", "circle"},
	{"#56B4E9", "", "square"},
}

// svg draws the medians: x the message sizes, evenly spaced; y MB/s on a log scale
// from the decade below the smallest value to the decade above the largest.
func (res *results) svg() string {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range res.mbps {
		m := median(v)
		lo, hi = math.Min(lo, m), math.Max(hi, m)
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	y := func(v float64) float64 {
		return plotBottom - (math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*(plotBottom-plotTop)
	}
	x := func(i int) float64 {
		return plotLeft + (float64(i)+0.5)*(plotRight-plotLeft)/float64(len(res.sizes))
	}

	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	title := "06-sync: MB/s from one process to another, by message size"
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" role="img" aria-labelledby="title desc">`, width, height, width, height)
	p(`<title id="title">%s</title>`, esc(title))
	p(`<desc id="desc">%s</desc>`, esc(res.describe()))
	p(`<rect width="100%%" height="100%%" fill="#ffffff"/>`)
	p(`<text x="20" y="30" font-size="18" font-weight="bold" fill="#222">%s</text>`, esc(title))
	for i, line := range res.caption() {
		p(`<text x="20" y="%d" font-size="12" fill="#555">%s</text>`, 52+16*i, esc(line))
	}

	// Grid and y labels: every decade, and 2 and 5 times it, fainter.
	for d := lo; d <= hi*1.001; d *= 10 {
		p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#bbbbbb" stroke-width="1"/>`, plotLeft, y(d), plotRight, y(d))
		p(`<text x="%d" y="%.1f" font-size="12" fill="#333" text-anchor="end">%s</text>`, plotLeft-8, y(d)+4, thousands(d))
		for _, k := range []float64{2, 5} {
			if d*k < hi {
				p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e4e4e4" stroke-width="1"/>`, plotLeft, y(d*k), plotRight, y(d*k))
			}
		}
	}
	p(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888888"/>`, plotLeft, plotTop, plotRight-plotLeft, plotBottom-plotTop)
	for i, size := range res.sizes {
		p(`<text x="%.1f" y="%d" font-size="13" fill="#333" text-anchor="middle">%s</text>`, x(i), plotBottom+20, sizeName(size))
	}
	p(`<text x="%d" y="%d" font-size="13" fill="#333" text-anchor="middle">message size</text>`, (plotLeft+plotRight)/2, plotBottom+44)
	p(`<text transform="translate(24 %d) rotate(-90)" font-size="13" fill="#333" text-anchor="middle">MB/s (log scale; higher is better)</text>`, (plotTop+plotBottom)/2)

	// One line per transport, and its legend entry.
	for k, t := range res.transports {
		st := styles[k%len(styles)]
		dash := ""
		if st.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, st.dash)
		}
		var points, markers []string
		for i, size := range res.sizes {
			if v := res.mbps[cell{t, size}]; len(v) > 0 {
				points = append(points, fmt.Sprintf("%.1f,%.1f", x(i), y(median(v))))
				markers = append(markers, marker(st.marker, x(i), y(median(v)), st.color))
			}
		}
		p(`<g>`)
		p(`<title>%s</title>`, esc(t+": "+res.values(t)))
		p(`<polyline points="%s" fill="none" stroke="%s" stroke-width="2.5"%s/>`, strings.Join(points, " "), st.color, dash)
		p(`%s`, strings.Join(markers, "\n"))
		p(`</g>`)
		ly := float64(plotTop + 20 + 30*k)
		p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-width="2.5"%s/>`, legendX, ly, legendX+36, ly, st.color, dash)
		b.WriteString(marker(st.marker, legendX+18, ly, st.color) + "\n")
		p(`<text x="%d" y="%.1f" font-size="14" fill="#222">%s</text>`, legendX+46, ly+5, esc(t))
	}
	p(`</svg>`)
	return b.String()
}

// caption names the machine and the runs, in lines short enough for the chart.
func (res *results) caption() []string {
	var cpu, goos, goarch, note string
	for _, c := range res.config {
		key, value, _ := strings.Cut(c, ":")
		value = strings.TrimSpace(value)
		switch key {
		case "cpu":
			cpu = value
		case "goos":
			goos = value
		case "goarch":
			goarch = value
		case "note":
			note = value
		}
	}
	var first []string
	if cpu != "" {
		first = append(first, cpu)
	}
	if goos != "" || goarch != "" {
		first = append(first, strings.Trim(goos+"/"+goarch, "/"))
	}
	if runs := res.runs(); runs != "" {
		first = append(first, "BenchmarkTransfer, "+runs)
	} else {
		first = append(first, "BenchmarkTransfer")
	}
	lines := []string{strings.Join(first, " · ")}
	if note != "" {
		lines = append(lines, note)
	}
	return lines
}

// describe is the chart in words, for screen readers.
func (res *results) describe() string {
	var parts []string
	for _, t := range res.transports {
		parts = append(parts, t+": "+res.values(t))
	}
	return "MB/s by message size. " + strings.Join(parts, "; ") + "."
}

// values lists a transport's medians, size by size.
func (res *results) values(t string) string {
	var v []string
	for _, size := range res.sizes {
		if runs := res.mbps[cell{t, size}]; len(runs) > 0 {
			v = append(v, fmt.Sprintf("%s MB/s at %s", thousands(median(runs)), sizeName(size)))
		}
	}
	return strings.Join(v, ", ")
}

func marker(shape string, x, y float64, color string) string {
	const r = 5
	switch shape {
	case "square":
		return fmt.Sprintf(`<rect x="%.1f" y="%.1f" width="%d" height="%d" fill="%s"/>`, x-r+0.5, y-r+0.5, 2*r-1, 2*r-1, color)
	case "triangle":
		return fmt.Sprintf(`<path d="M%.1f,%.1f L%.1f,%.1f L%.1f,%.1f Z" fill="%s"/>`, x, y-r-1, x+r+1, y+r, x-r-1, y+r, color)
	case "diamond":
		return fmt.Sprintf(`<path d="M%.1f,%.1f L%.1f,%.1f L%.1f,%.1f L%.1f,%.1f Z" fill="%s"/>`, x, y-r-1, x+r+1, y, x, y+r+1, x-r-1, y, color)
	}
	return fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="%d" fill="%s"/>`, x, y, r, color)
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
