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
// creator, producer and consumer pids, ...). The fast ring's own part follows. Every
// field is in the machine's native byte order (little-endian on amd64 and arm64).
// Offsets are from the start of the segment, which shmat(2) maps at a page
// boundary, so every field is naturally aligned. The fields marked "atomic" are read
// and written only with atomic instructions (C: __atomic_load_n, __atomic_store_n
// and __atomic_compare_exchange_n with __ATOMIC_SEQ_CST).
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
// # Semaphores
//
// A set of two System V semaphores, both starting at 0, which the program that
// creates the segment also creates (06-sync finds both under one key). Semaphore 0 wakes the consumer ("data was published"); semaphore 1 wakes the
// producer ("space was freed"). Neither uses SEM_UNDO: they are wake-up calls, not
// locks, and nothing is held that a dead process would have to give back.
//
// # The protocol
//
// Producer, to send a record of n bytes (n <= capacity):
//
//  1. If capacity-(tail-head) < n, wait for space (below), reading head again.
//  2. Write the record at tail (ordinary stores), then store tail+n into tail (atomic).
//  3. Load the consumer-sleeping flag; if it is 1, compare-and-swap it 1 -> 0 and, if
//     that succeeded, post semaphore 0 (semop +1).
//
// A record larger than the capacity goes in pieces: the record header, then the
// payload and padding in pieces of at most capacity/2 bytes, each written, published
// and followed by the flag check as in steps 1 to 3.
//
// Consumer, to receive:
//
//  1. If tail does not yet cover the record header, wait for data (below), reading
//     tail again. A record that fits the ring is published whole, so its header
//     means all of it is there; a larger one is copied out piece by piece as tail
//     moves, each piece freed as soon as it is copied.
//  2. Read the record at head (ordinary loads), then store the new head (atomic).
//  3. Load the producer-sleeping flag; if it is 1, compare-and-swap it 1 -> 0 and, if
//     that succeeded, post semaphore 1.
//
// Waiting, the same on both sides (my flag, my semaphore, the other's index):
//
//  1. Spin for a short while (Spin, 50 µs) re-reading the other side's index.
//  2. Store 1 into my flag (atomic): "I am going to sleep".
//  3. Load the other side's index again. If what I wait for is there, compare-and-
//     swap my flag 1 -> 0; if that fails, the other side took the flag and is posting
//     my semaphore, so wait on it once to take that post back. Done.
//  4. Otherwise semtimedop(-1) on my semaphore with a timeout of 100 ms. Timed out:
//     compare-and-swap my flag 1 -> 0 (if that fails take the post as in 3) and
//     check that the other side's process is alive. Woken: the waker has already
//     cleared my flag. Either way, if what I wait for is there, done; else go to 2.
//
// A side never sleeps without storing its flag first and looking at the index after
// that; the other side always stores its index first and looks at the flag after
// that. Each side stores, then loads what the other stored. With sequentially
// consistent atomics at least one of the two loads sees the other's store, so
// either the sleeper sees the new index and does not sleep, or the publisher sees the
// flag and posts: a wake-up is never lost. (Go's sync/atomic operations are
// sequentially consistent; on amd64 the store is an XCHG, which also drains the
// store buffer, so the load after it cannot be answered before it is visible.
// Ordinary stores followed by a load could be reordered by the store buffer, which
// is exactly the lost wake-up.) Two processes are outside Go's memory model, which
// speaks of goroutines of one program, but the segment is the same physical memory
// in both, and the CPU's guarantees apply to instructions, not to processes.
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
// ESRCH or a zombie means it died, and the call returns a *header.PeerGoneError
// naming it, well within 2 seconds. A semaphore set removed under a sleeper (EIDRM)
// is reported the same way.
//
// # End of stream
//
// The producer's Close writes a record with tag 2 and waits until head == tail:
// the consumer has taken everything, so the producer may exit and the objects may
// be removed.
package fastring
