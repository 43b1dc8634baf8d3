/* fast.h: the fast transport's layout and wake-up protocol (package fastring's
 * documentation, byte by byte), for C programs. Include instead of ring.h. */
#define RING_KIND 2
#pragma GCC diagnostic ignored "-Wunused-function" /* ring.h's semring-only sem_wait_n */
#include "ring.h"

/* The fast ring's header after the common one: each field on its own cache line. */
#define OFF_CAPACITY 64       /* uint64, a power of two */
#define OFF_TAIL 128          /* uint64, written by the producer */
#define OFF_CONSUMER_WAIT 192 /* uint32, 1 = the consumer is going to sleep on SEM_DATA */
#define OFF_HEAD 256          /* uint64, written by the consumer */
#define OFF_PRODUCER_WAIT 320 /* uint32, 1 = the producer is going to sleep on SEM_SPACE */
#define DATA_OFFSET 384
#define TAG_MESSAGE 1
#define TAG_END 2
#define SEM_DATA 0
#define SEM_SPACE 1

static uint64_t capacity, mask;

/* Every shared index and flag access is sequentially consistent, like Go's
 * sync/atomic: the store-then-load pairs of the protocol need it. */
static uint64_t ld64(int off) { return __atomic_load_n(u64(off), __ATOMIC_SEQ_CST); }
static void st64(int off, uint64_t v) { __atomic_store_n(u64(off), v, __ATOMIC_SEQ_CST); }
static int cas32(int off, uint32_t old, uint32_t new) {
	return __atomic_compare_exchange_n(u32(off), &old, new, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static void fast_init(void) {
	capacity = ld64(OFF_CAPACITY);
	mask = capacity - 1;
}

static int timed_wait(int num) { /* semtimedop -1 for up to 100 ms: 0, or errno */
	struct sembuf op = {.sem_num = num, .sem_op = -1, .sem_flg = 0};
	struct timespec ts = {0, 100 * 1000 * 1000};
	return semtimedop(semid, &op, 1, &ts) == 0 ? 0 : errno;
}

/* cancel_sleep takes back "I am going to sleep"; if the peer already cleared the
 * flag, its post is coming: take it, so that the semaphore is 0 again. If it does
 * not come within the timeout, it is stale when it comes: see fast_wait. */
static void cancel_sleep(int flag, int num) {
	if (!cas32(flag, 1, 0)) timed_wait(num);
}

/* fast_wait returns once ready() is true: spin, then flag, re-check, sleep. */
static void fast_wait(int (*ready)(void), int flag, int num) {
	for (int i = 0; i < 20000; i++)
		if (ready()) return;
	for (;;) {
		/* I am going to sleep. A sequentially consistent store, then a sequentially
		 * consistent load in ready(): C11 orders the two (gcc on x86-64 makes the
		 * store an XCHG). */
		__atomic_store_n(u32(flag), 1, __ATOMIC_SEQ_CST);
		if (ready()) { /* look again AFTER raising the flag */
			cancel_sleep(flag, num);
			return;
		}
		int err = timed_wait(num);
		if (err == 0) {
			/* Woken. The waker cleared the flag before posting; still raised means
			 * a stale post (its sleeper had stopped waiting for it): lower it. */
			cas32(flag, 1, 0);
		} else if (err == EAGAIN || err == EINTR) {
			cancel_sleep(flag, num);
			int was_alive = peer_alive(); /* liveness first, then the condition */
			if (ready()) return;
			if (!was_alive) peer_gone();
		} else if (err == EIDRM || err == EINVAL) {
			if (ready()) return; /* the peer finished and removed the set */
			fprintf(stderr, "the semaphore set was removed: the peer stopped\n");
			exit(1);
		} else {
			errno = err;
			die("semtimedop");
		}
		if (ready()) return;
	}
}

/* fast_wake, after publishing: if the peer raised its flag, clear it and post. A
 * set already removed is no error here (the peer finished, or stopped): the next
 * wait tells which, since it looks at the index first. */
static void fast_wake(int flag, int num) {
	if (__atomic_load_n(u32(flag), __ATOMIC_SEQ_CST) == 0) return;
	if (cas32(flag, 1, 0)) sem_add(num, 1);
}

static uint64_t record_size(uint64_t n) { return 8 + ((n + 7) & ~(uint64_t)7); }
