// Package fastring is the fast transport of lesson 06-sync: a single-producer,
// single-consumer byte-stream ring in one System V shared memory segment that makes
// no system call at all while data flows, and sleeps on a System V semaphore only
// when the ring is empty (the consumer) or full (the producer).
//
// The textbook ring (package semring) makes one semop per message on each side:
// every message costs two system calls, more than a pipe's write and read. Here the
// two sides agree through two counters in the segment, read and written with atomic
// instructions, and call the kernel only to sleep and to wake a sleeper.
//
// # Byte stream, not slots
//
// The data area is a byte stream of records. A record is an 8-byte record header
// (length, tag) followed by the payload, padded with 0 to 7 bytes to a multiple of
// 8 so that every record header starts 8-byte aligned and never wraps around the
// end of the ring (the ring's capacity is a power of two, at least 64). A payload
// may wrap: its first part is at the end of the data area, the rest at the start.
// The padding bytes are not written: they hold whatever was there (0 on the first
// lap, an older record's bytes later), and a consumer skips them unread.
//
// Why not fixed slots: a slot ring wastes the unused part of every slot, needs a
// slot as large as the largest message, and cannot carry a message larger than a
// slot. In a byte stream a 64-byte message takes 72 bytes, and a message larger than
// the whole ring streams through it: the producer writes the record header, then the
// payload in pieces of at most half the ring, publishing each piece, while the
// consumer copies each piece out as it is published.
//
// # Layout, byte by byte
//
// The segment starts with the 64-byte header every 06-sync transport shares
// (package header: magic "SYNC", version, kind = 2 for this ring, kind version = 1,
// creator, producer and consumer pids, max message, segment size = 384 + capacity).
// The producer stores max message right after its claim of the producer pid has
// succeeded; the consumer waits for it to be non-zero and receives every message
// whole into a buffer of max(max message, 28) bytes, also one that streams through
// a smaller ring. The fast ring's own part follows. Every
// field, the record headers included, is an integer in the byte order of the machine
// both processes run on (native: little-endian on x86-64 and arm64), read and
// written by atomic instructions or copied as the machine stores it; package header
// says the same of the common header. Offsets are from the start of the segment,
// which shmat(2) maps at a page boundary, so every field is naturally aligned. The
// fields marked "atomic" are read and written only with atomic instructions (C:
// __atomic_load_n, __atomic_store_n or __atomic_exchange_n, and
// __atomic_compare_exchange_n, all with __ATOMIC_SEQ_CST).
//
// The capacity is chosen by the creator: Capacity(n) is the smallest power of two
// that is at least n and at least 64 (MinCapacity); Format refuses a request above
// 2^30 (MaxCapacity). The 06-sync program asks for -slots × -slotsize bytes (8 ×
// 4096 by default: 32768), so its segment is 384 + Capacity(slots × slotsize)
// bytes, and refuses -slots × -slotsize above 2^30 as a usage error.
//
//	offset size type    field
//	     0   64         common header (package header)
//	--- cache line 1: written once, by the creator, before it publishes the header
//	    64    8 uint64  capacity: size of the data area in bytes, a power of two >= 64
//	    72   56         reserved, 0
//	--- cache line 2: written only by the producer
//	   128    8 uint64  tail: total bytes the producer has published; atomic
//	   136   56         padding
//	--- cache line 3: the consumer's wake-up flag
//	   192    4 uint32  consumer sleeping: 1 = "I am going to sleep on semaphore 0"; atomic
//	   196   60         padding
//	--- cache line 4: written only by the consumer
//	   256    8 uint64  head: total bytes the consumer has finished with; atomic
//	   264   56         padding
//	--- cache line 5: the producer's wake-up flag
//	   320    4 uint32  producer sleeping: 1 = "I am going to sleep on semaphore 1"; atomic
//	   324   60         padding
//	--- data area
//	   384  capacity    the ring: the byte at stream position p is at 384 + (p & (capacity-1))
//
// Why each on its own line: a CPU core owns a whole 64-byte line to write any byte of
// it. If head and tail shared a line, every store by one side would take the line
// away from the other side's cache, although they never touch each other's field
// (false sharing). Apart, the tail's line moves to the consumer only when the
// consumer reads the tail, and the flags, written only around sleeps, stay cached
// on both sides, so the check after every publish costs no transfer.
//
// head and tail only grow (2^64 bytes would take centuries); tail-head is the number
// of unread bytes, never more than capacity, and capacity-(tail-head) is free.
//
// A record at stream position p (a multiple of 8):
//
//	p+0  uint32 length of the payload in bytes
//	p+4  uint32 tag: 1 = message, 2 = end of stream (length 0, no payload)
//	p+8  length bytes of payload, then zero to seven bytes of padding up to a multiple of 8
//
// Any other tag means a corrupt ring: the consumer stops with an error.
//
// # Semaphores
//
// A set of two System V semaphores, both starting at 0, which the program that
// creates the segment also creates (06-sync finds both under one key; its last
// step of initialisation is one semop, {0, 0, IPC_NOWAIT}, which changes nothing and
// sets sem_otime, the sign an opener waits for). Semaphore 0 wakes the consumer
// ("data was published"); semaphore 1 wakes the producer ("space was freed").
// Neither uses SEM_UNDO: they are wake-up calls, not locks, and nothing is held that
// a dead process would have to give back.
//
// # The protocol
//
// A record fits if its size, 8 + the payload rounded up to 8, is at most the
// capacity; then it is published whole, by one store of tail past all of it, and a
// consumer reads the whole payload as soon as tail covers the header. A larger
// record streams.
//
// Producer, to send a record of n bytes that fits (n <= capacity):
//
//  1. If capacity-(tail-head) < n, wait for space (below), reading head again.
//  2. Write the record at tail (ordinary stores), then store tail+n into tail with
//     an atomic swap (see "Why a swap" below).
//  3. Load the consumer-sleeping flag; if it is 1, compare-and-swap it 1 -> 0 and, if
//     that succeeded, post semaphore 0 (semop +1). A post that fails because the set
//     is gone (EIDRM, EINVAL) is ignored: the consumer removed it, and whether it
//     finished or stopped is for the next wait to tell.
//
// A record that streams goes in pieces: the record header is published together
// with the first piece of the payload and padding, of at most capacity/2 bytes,
// then come the other pieces of at most capacity/2 bytes each, the last one ending
// at the record's end; each is written, published and followed by the flag check
// as in steps 1 to 3. (With a 64-byte ring, a 57-byte message, a 72-byte record:
// tail moves on 40 bytes, then 32.) A consumer follows tail, so it accepts any
// split of a streamed record, the header alone included.
//
// Consumer, to receive:
//
//  1. If tail does not yet cover the record header, wait for data (below), reading
//     tail again. A record that fits the ring is published whole, so its header
//     means all of it is there; a larger one is copied out piece by piece as tail
//     moves, each piece freed as soon as it is copied.
//  2. Read the record at head (ordinary loads), then store the new head with an
//     atomic swap, after every record (and after every piece of a streamed one).
//  3. Load the producer-sleeping flag; if it is 1, compare-and-swap it 1 -> 0 and, if
//     that succeeded, post semaphore 1 (a set already gone is ignored, as above).
//
// Waiting, the same on both sides (my flag, my semaphore, the other's index):
//
//  1. Spin for a short while (Spin, 50 µs) re-reading the other side's index.
//  2. Swap 1 into my flag (atomic): "I am going to sleep".
//  3. Load the other side's index again. If what I wait for is there, compare-and-
//     swap my flag 1 -> 0; if that fails, the other side took the flag and is posting
//     my semaphore, so wait on it (for up to 100 ms) to take that post back. Done.
//  4. Otherwise semtimedop(-1) on my semaphore with a timeout of 100 ms.
//     Woken: the waker cleared my flag before it posted, unless the post was stale
//     (below); so compare-and-swap my flag 1 -> 0, which succeeds only after a
//     stale post. Timed out: compare-and-swap my flag 1 -> 0 (if that fails take
//     the post as in 3); note whether the other side's process is alive; then, if
//     what I wait for is there, done, and if the process was dead, it is gone (an
//     error). The set removed (EIDRM, or EINVAL): if what I wait for is there, done,
//     else the other side stopped (an error). In every other case: if what I wait
//     for is there, done; else go to 2.
//
// The order "liveness, then the index" matters at the end of a stream: a consumer
// stores its last head and exits. A producer that read the index first and then
// found the consumer dead would report a complete stream as broken; a process
// found dead has made its last store, so the index read after that is final.
//
// A post is stale when its sleeper stopped waiting for it: the waker cleared the
// flag, then was held up (descheduled on a busy machine, or killed) for longer
// than the sleeper's 100 ms wait in step 3 or 4. The post then leaves the
// semaphore at 1 with nobody asleep. The next sleep on it returns at once with the
// flag still raised (nobody cleared it for that sleep): step 4 lowers it, looks at
// the index and goes round again. A stale post costs one early return and never
// loses a wake-up, since every return from the semaphore is followed by a look at
// the index.
//
// A side never sleeps without storing its flag first and looking at the index after
// that; the other side always stores its index first and looks at the flag after
// that. Each side stores, then loads what the other stored. With sequentially
// consistent atomics at least one of the two loads sees the other's store, so
// either the sleeper sees the new index and does not sleep, or the publisher sees the
// flag and posts: a wake-up is never lost. (Go's sync/atomic operations are
// sequentially consistent; on amd64 both a Store and a Swap are an XCHG, which also
// drains the store buffer, so the load after it cannot be answered before it is
// visible. Ordinary stores followed by a load could be reordered by the store
// buffer, which is exactly the lost wake-up.) Two processes are outside Go's memory
// model, which speaks of goroutines of one program, but the segment is the same
// physical memory in both, and the CPU's guarantees apply to instructions, not to
// processes.
//
// # Why a swap
//
// The two stores that a load of the other side's field follows (raising the flag,
// publishing the index) are atomic swaps, not atomic stores. In an ordinary build
// on amd64 the two compile to the same XCHG. Under the race detector (go test
// -race) every sync/atomic call goes to the ThreadSanitizer runtime instead, which
// performs a Store as a release store, a plain MOV on amd64, without the XCHG: on
// memory outside the Go heap, such as a segment, nothing else orders it, and the
// load after it can overtake it. A Swap is a read-modify-write, which TSan performs
// with a locked XCHG in every build. README.md, "Why the order holds", has the
// sources and the measurements.
//
// The same atomics order the data: the producer writes the record before its
// atomic store of tail (a release), and the consumer reads tail with an atomic load
// (an acquire) before it reads the record, so it never sees a half-written record;
// the consumer finishes reading before it stores head, so the producer never
// overwrites bytes being read.
//
// # Peer death
//
// Every sleep is at most 100 ms (Poll). After each timeout the sleeper checks the
// other side's pid from the common header with kill(pid, 0) and /proc/pid/stat:
// ESRCH or a zombie means it died, and, unless what it waited for is there after
// all (the order above), the call returns a *header.PeerGoneError naming it, well
// within 2 seconds. A semaphore set removed under a sleeper (EIDRM), or before its
// next semop (EINVAL), is reported the same way, unless what it waited for is
// there; that error also matches sem.ErrRemoved, whichever of the two errnos the
// kernel gave (package sem reports both as removed).
//
// # End of stream
//
// The producer's Close writes a record with tag 2 and waits until head == tail:
// the consumer has taken everything, so the producer may exit and the objects may
// be removed. The consumer, on the record with tag 2, publishes its head at once
// (and wakes the producer if its flag is raised) and reports the end of the stream.
//
// Either side may then remove the set. So a side that finds it removed at the end,
// with EIDRM while asleep or EINVAL on its next call, looks at the index before it
// calls that an error: a producer whose Close finds head == tail, or a consumer
// whose post after the end marker finds the set gone, has a complete stream. Only
// a removal before that (head short of tail, or no end marker yet) means that the
// other side stopped early.
package fastring
