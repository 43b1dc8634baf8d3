//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/learn-sysv/shm-course/06-sync/fastring"
	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/06-sync/semring"
)

// ringWatcher reads one transport's part of the segment and describes it.
type ringWatcher interface {
	// look reads the ring (loads only, no system call) and keeps what it needs.
	look(seg []byte)
	// show describes the ring as it was at the last look: lines for a terminal
	// width columns wide, and the same in one plain line.
	show(now time.Time, sems semaphores, width int) (lines []string, plain string)
	// ended reports whether the consumer has taken the end-of-stream marker, and
	// says so.
	ended(seg []byte) (string, bool)
}

// newRingWatcher checks the segment's header (magic, version, a transport of this
// lesson in the layout version this program knows, a consistent ring) and returns
// the watcher for its transport.
func newRingWatcher(h header.Header, seg []byte) (ringWatcher, error) {
	versions := map[uint32]uint32{header.KindSemring: semring.KindVersion, header.KindFast: fastring.KindVersion}
	kind := h.Kind()
	kindVersion, known := versions[kind]
	switch {
	case h.MagicValue() != header.Magic || h.Version() != header.Version:
		return nil, h.Check(kind, kindVersion, len(seg)) // says which of the two is wrong
	case !known:
		return nil, fmt.Errorf("%w: transport kind %d is none of this lesson's (1 semring, 2 fast)", header.ErrNotOurs, kind)
	}
	if err := h.Check(kind, kindVersion, len(seg)); err != nil {
		return nil, err // a layout version this program does not know
	}
	if kind == header.KindSemring {
		if _, err := semring.Observe(seg); err != nil {
			return nil, err
		}
		return &semringWatcher{}, nil
	}
	if _, err := fastring.Observe(seg); err != nil {
		return nil, err
	}
	return &fastWatcher{maxMessage: h.MaxMessage}, nil
}

// valueText and waitingText are semaphore num's value and waiters, "-" once the
// set is gone.
func (s semaphores) valueText(num int) string {
	if s.gone {
		return "-"
	}
	return fmt.Sprint(s.value[num])
}

func (s semaphores) waitingText(num int) string {
	if s.gone {
		return "-"
	}
	return fmt.Sprint(s.waiting[num])
}

// frame is one drawing of the whole view.
type frame struct {
	lines []string
	plain string
}

// frame describes the run: which objects, the ring, the two processes.
func (w *watched) frame(now time.Time, elapsed time.Duration, sems semaphores, width int) frame {
	lines, plain := w.ring.show(now, sems, width)
	top := fmt.Sprintf("key %v · %s · segment %d (read-only) · set %d · %.1f s",
		w.key, header.KindName(w.hdr.Kind()), w.shmid, w.set.ID(), elapsed.Seconds())
	producer, consumer := w.peerState(header.Producer), w.peerState(header.Consumer)
	out := append([]string{top, ""}, lines...)
	out = append(out, "", fmt.Sprintf("producer  %-24s consumer  %s", producer, consumer))
	return frame{
		lines: out,
		plain: fmt.Sprintf("%.1fs %s %s; producer %s, consumer %s", elapsed.Seconds(), header.KindName(w.hdr.Kind()), plain, producer, consumer),
	}
}

// semringWatcher watches the textbook ring: slots, EMPTY and FULL.
type semringWatcher struct {
	st semring.State // at the last look

	// The messages seen in the ring, for the estimate of messages/s and MB/s: the
	// ring counts slots, not messages or bytes.
	sampled uint64 // slots before this one have been sampled
	slots   uint64 // slots sampled
	bytes   uint64 // their payload bytes
	ends    uint64 // how many of them end a message (no More flag)

	in, out rate // of sent, of received
}

func (r *semringWatcher) look(seg []byte) {
	st, err := semring.Observe(seg)
	if err != nil {
		return // checked when attached; the layout does not change
	}
	r.st = st
	// Sample each slot once while it is still in the ring: the full ones, and the
	// one the consumer emptied last, which stays as it is until the producer comes
	// round to it again.
	from := st.Received
	if from > 0 {
		from-- // the slot emptied last
	}
	from = max(from, r.sampled)
	to := min(st.Sent, from+64)
	for n := from; n < to; n++ {
		length, flags, err := semring.ObserveSlot(seg, n)
		if err != nil || flags&semring.End != 0 || length > uint32(st.SlotSize) {
			continue
		}
		r.slots++
		r.bytes += uint64(length)
		if flags&semring.More == 0 {
			r.ends++
		}
	}
	r.sampled = max(r.sampled, to)
}

func (r *semringWatcher) show(now time.Time, sems semaphores, width int) ([]string, string) {
	st := r.st
	in, perSecond := r.in.add(now, float64(st.Sent)), r.out.add(now, float64(st.Received))
	full := st.Full()
	est := "messages/s and MB/s: no message seen in the ring yet"
	plainEst := "? messages/s, ? MB/s"
	if r.slots > 0 {
		msgs := perSecond * float64(r.ends) / float64(r.slots)
		mb := perSecond * float64(r.bytes) / float64(r.slots) / 1e6
		est = fmt.Sprintf("≈ %s messages/s, ≈ %.2f MB/s", group(uint64(msgs+0.5)), mb)
		plainEst = fmt.Sprintf("≈%.0f messages/s, ≈%.2f MB/s", msgs, mb)
	}
	now1 := "neither sleeps on a semaphore"
	switch {
	case sems.gone:
		now1 = "the semaphore set is removed: the stream is over"
	case sems.waiting[semring.Empty] > 0 && sems.waiting[semring.Full] > 0:
		now1 = "both sleep in semop: the producer on EMPTY, the consumer on FULL"
	case sems.waiting[semring.Empty] > 0:
		now1 = "the producer sleeps in semop on EMPTY, waiting for free slots"
	case sems.waiting[semring.Full] > 0:
		now1 = "the consumer sleeps in semop on FULL, waiting for a full slot"
	}
	gauge := fmt.Sprintf("%d of %d full", full, st.Slots)
	bar, marks := ringBar(width-15-max(len(gauge), 24), st.Slots, st.Received, uint64(full), st.Sent, st.Received)
	lines := []string{
		fmt.Sprintf("slots     %s  %s", bar, gauge),
		fmt.Sprintf("          %-*s  %s", utf8.RuneCountInString(bar), marks, marksLegend(marks)),
		fmt.Sprintf("sent      %-9s received  %-9s (%d-byte slots, since the start)", group(st.Sent), group(st.Received), st.SlotSize),
		"          value    waiting  (semctl GETVAL, GETNCNT)",
		fmt.Sprintf("EMPTY     %-8s %-8s free slots: the producer waits here for one", sems.valueText(semring.Empty), sems.waitingText(semring.Empty)),
		fmt.Sprintf("FULL      %-8s %-8s full slots: the consumer waits here for one", sems.valueText(semring.Full), sems.waitingText(semring.Full)),
		"now       " + now1,
		fmt.Sprintf("rate      in %s, out %s slots/s · %s", group(uint64(in+0.5)), group(uint64(perSecond+0.5)), est),
	}
	plain := fmt.Sprintf("%d of %d slots full, sent %d, received %d; EMPTY %s (%s waiting), FULL %s (%s waiting); in %.0f, out %.0f slots/s, %s",
		full, st.Slots, st.Sent, st.Received, sems.valueText(semring.Empty), sems.waitingText(semring.Empty),
		sems.valueText(semring.Full), sems.waitingText(semring.Full), in, perSecond, plainEst)
	return lines, plain
}

func (r *semringWatcher) ended(seg []byte) (string, bool) {
	st, err := semring.Observe(seg)
	if err != nil || !st.Done {
		return "", false
	}
	return fmt.Sprintf("the consumer took the end-of-stream marker: %s slots went through the ring", group(st.Received)), true
}

// fastWatcher watches the fast ring: a byte stream, two sleeping flags.
type fastWatcher struct {
	st         fastring.State // at the last look
	maxMessage func() int     // the producer's largest message, from the header

	// The records seen in the ring, for the estimate of messages/s: the ring counts
	// bytes, not messages.
	next     uint64 // where the next record to read starts
	records  uint64 // records read
	payload  uint64 // their payload bytes
	recBytes uint64 // their bytes in the ring: headers, payload, padding

	// Sleeps seen: the ring does not count them (only each side's process does), so
	// the monitor counts the sleeps it can tell apart from one look to the next. It
	// misses a sleep that starts and ends between two looks, and counts a long wait
	// made of several timed sleeps (semtimedop, fastring.Poll) once.
	sleeping [2]bool   // consumer, producer, at the last look
	sleeps   [2]uint64 // times seen going to sleep

	in, out rate // of tail, of head
}

func (r *fastWatcher) look(seg []byte) {
	st, err := fastring.Observe(seg)
	if err != nil {
		return // checked when attached; the layout does not change
	}
	// A side seen with its flag raised went to sleep since the last look if its flag
	// was down then, or if its own index moved since: it was awake in between.
	moved := [2]bool{st.Head != r.st.Head, st.Tail != r.st.Tail}
	for i, now := range [2]bool{st.ConsumerSleeping, st.ProducerSleeping} {
		if now && (!r.sleeping[i] || moved[i]) {
			r.sleeps[i]++
		}
		r.sleeping[i] = now
	}
	r.st = st
	// Read the record headers between head and tail, each once. head is where a
	// record starts (except inside one larger than the ring, where the checks below
	// stop the walk); a header that does not look like a message ends it too.
	limit := uint32(fastring.MaxMessage)
	if m := r.maxMessage(); m > 0 {
		limit = uint32(m)
	}
	pos := max(r.next, st.Head)
	for i := 0; i < 64 && pos+8 <= st.Tail; i++ {
		length, tag, err := fastring.ObserveRecord(seg, pos)
		if err != nil || tag != fastring.TagMessage || length > limit {
			break
		}
		size := fastring.RecordSize(int(length))
		r.records++
		r.payload += uint64(length)
		r.recBytes += size
		pos += size
	}
	r.next = pos
}

func (r *fastWatcher) show(now time.Time, sems semaphores, width int) ([]string, string) {
	st := r.st
	in, perSecond := r.in.add(now, float64(st.Tail)), r.out.add(now, float64(st.Head))
	est := "messages/s: no message seen in the ring yet"
	plainEst := "? messages/s"
	if r.records > 0 {
		msgs := perSecond * float64(r.records) / float64(r.recBytes)
		est = fmt.Sprintf("≈ %s messages/s, ≈ %.2f MB/s of messages", group(uint64(msgs+0.5)), perSecond*float64(r.payload)/float64(r.recBytes)/1e6)
		plainEst = fmt.Sprintf("≈%.0f messages/s", msgs)
	}
	side := func(name string, sleeping bool, num int, why string, i int) (string, string) {
		flag := 0
		if sleeping {
			flag = 1
		}
		state := "running"
		switch {
		case sems.gone:
			state = "(the set is removed)"
		case sems.waiting[num] > 0:
			state = "asleep: " + why
		case sleeping:
			state = "flag up, between two sleeps"
		}
		return fmt.Sprintf("%-9s %-5d %d = %-6s %-8s %-11s %s", name, flag, num, sems.valueText(num), sems.waitingText(num), group(r.sleeps[i]), state),
			fmt.Sprintf("%s flag %d, semaphore %d = %s (%s waiting), sleeps seen %d", name, flag, num, sems.valueText(num), sems.waitingText(num), r.sleeps[i])
	}
	consumer, plainConsumer := side("consumer", st.ConsumerSleeping, fastring.SemData, "waiting for data", 0)
	producer, plainProducer := side("producer", st.ProducerSleeping, fastring.SemSpace, "waiting for space", 1)
	inFlight := st.InFlight()
	gauge := fmt.Sprintf("%s of %s bytes in flight", group(inFlight), group(st.Capacity))
	bar, marks := ringBar(width-15-max(len(gauge), 24), int(st.Capacity), st.Head, inFlight, st.Tail, st.Head)
	lines := []string{
		fmt.Sprintf("ring      %s  %s", bar, gauge),
		fmt.Sprintf("          %-*s  %s", utf8.RuneCountInString(bar), marks, marksLegend(marks)),
		fmt.Sprintf("tail      %-11s head      %-11s (bytes, since the start)", group(st.Tail), group(st.Head)),
		"          flag  semaphore waiting  sleeps seen now",
		consumer,
		producer,
		fmt.Sprintf("rate      in %.2f, out %.2f MB/s · %s", in/1e6, perSecond/1e6, est),
	}
	plain := fmt.Sprintf("%d of %d bytes in flight, tail %d, head %d; %s; %s; in %.2f, out %.2f MB/s, %s",
		inFlight, st.Capacity, st.Tail, st.Head, plainConsumer, plainProducer, in/1e6, perSecond/1e6, plainEst)
	return lines, plain
}

func (r *fastWatcher) ended(seg []byte) (string, bool) {
	st, err := fastring.Observe(seg)
	if err != nil || st.Head != st.Tail || st.Tail < 8 {
		return "", false
	}
	// The end-of-stream record is 8 bytes, a header alone, and the last thing the
	// producer writes; the consumer's head reaches the tail once it has read it.
	if length, tag, err := fastring.ObserveRecord(seg, st.Tail-8); err != nil || length != 0 || tag != fastring.TagEnd {
		return "", false
	}
	return fmt.Sprintf("the consumer read the end-of-stream record: %s bytes went through the ring", group(st.Head)), true
}

// ringBar draws a ring of size positions as a bar about width columns wide: the
// used part, which starts at position from (mod size) and is used long, filled,
// the rest empty. Below it, marks shows where the producer (P, at position p) and
// the consumer (C, at c) are: * where both are. With more positions than cells, a
// cell stands for several, and is filled if any of them is used.
func ringBar(width, size int, from, used, p, c uint64) (bar, marks string) {
	if size <= 0 {
		return "[]", ""
	}
	cells := min(max(width, 8), 64, size)
	cw := max(1, min(6, width/cells)) // columns per cell
	n, k := uint64(size), uint64(cells)
	// cellOf is the cell of pos counted on from the cell of position 0 of this lap,
	// so that one past the last cell is cells, not 0.
	cellOf := func(pos uint64) uint64 { return pos/n*k + pos%n*k/n }
	filled := make([]bool, cells)
	if used > 0 {
		// The used range may wrap past the end of the ring, and then begin and end
		// in one cell with every other cell full: count the cells it runs through
		// from its first to its last position, not the last's cell mod cells.
		start := from % n
		first, last := cellOf(start), cellOf(start+min(used, n)-1)
		for c := first; c <= last && c < first+k; c++ {
			filled[c%k] = true
		}
	}
	gap := 0
	if cw >= 3 {
		gap = 1 // a space between cells wide enough to be slots you can count
	}
	var b strings.Builder
	b.WriteString("[")
	for i, f := range filled {
		if i > 0 && gap > 0 {
			b.WriteString(" ")
		}
		if f {
			b.WriteString(strings.Repeat("█", cw-gap))
		} else {
			b.WriteString(strings.Repeat("░", cw-gap))
		}
	}
	b.WriteString("]")
	m := []rune(strings.Repeat(" ", cells*cw+2))
	pc, cc := 1+int(cellOf(p%n))*cw, 1+int(cellOf(c%n))*cw
	m[cc] = 'C'
	m[pc] = 'P'
	if pc == cc {
		m[pc] = '*'
	}
	return b.String(), strings.TrimRight(string(m), " ")
}

// marksLegend says what the marks under a ring bar mean.
func marksLegend(marks string) string {
	if strings.Contains(marks, "*") {
		return "*: producer and consumer"
	}
	return "P: producer, C: consumer"
}

// rate is how fast a counter grows, over about the last second.
type rate struct{ points []point }

type point struct {
	t time.Time
	v float64
}

// add records the counter's value v at time t and returns its growth per second
// since the oldest value of the last second.
func (r *rate) add(t time.Time, v float64) float64 {
	r.points = append(r.points, point{t, v})
	for len(r.points) > 2 && t.Sub(r.points[1].t) >= time.Second {
		r.points = r.points[1:]
	}
	first := r.points[0]
	if dt := t.Sub(first.t).Seconds(); dt > 0 {
		return (v - first.v) / dt
	}
	return 0
}

// group writes n with thousands separators: 1,234,567.
func group(n uint64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// screen draws frames: in place on a terminal, every tenth of a second; as one
// plain line a second otherwise (a pipe, a file, a test).
type screen struct {
	out   io.Writer
	fd    int // the terminal, or -1
	every time.Duration
	drawn int // lines drawn last time, to go back up over
}

func newScreen(out io.Writer) *screen {
	s := &screen{out: out, fd: -1, every: time.Second}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		s.fd, s.every = int(f.Fd()), 100*time.Millisecond
	}
	return s
}

// width is the terminal's width in columns (80 when there is no terminal).
func (s *screen) width() int {
	if s.fd >= 0 {
		if w, _, err := term.GetSize(s.fd); err == nil && w >= 40 {
			return w
		}
	}
	return 80
}

func (s *screen) draw(f frame) {
	if s.fd < 0 {
		fmt.Fprintln(s.out, f.plain)
		return
	}
	// ESC [ n F moves the cursor to the start of the line n lines up; ESC [ 2 K
	// erases a line. Lines are cut to the width, so none wraps and the count stays
	// right.
	var b strings.Builder
	if s.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dF", s.drawn)
	}
	width := s.width()
	for _, line := range f.lines {
		b.WriteString("\x1b[2K")
		b.WriteString(clip(line, width-1))
		b.WriteString("\n")
	}
	for i := len(f.lines); i < s.drawn; i++ {
		b.WriteString("\x1b[2K\n")
	}
	s.drawn = max(s.drawn, len(f.lines))
	io.WriteString(s.out, b.String())
}

// clip cuts s to at most n characters.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:max(n, 0)])
}
