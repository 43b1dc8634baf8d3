/* ring.h: the 06-sync segment layout and semaphore protocol (semring transport),
 * as README.md documents it, for C programs. Little-endian, 64-bit Linux.
 * These programs open the objects a Go side created: start the Go side first. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

/* Common header, offsets 0..63. */
#define OFF_MAGIC 0
#define OFF_VERSION 4
#define OFF_KIND 8
#define OFF_KIND_VERSION 12
#define OFF_CREATOR_PID 16
#define OFF_PRODUCER_PID 20
#define OFF_CONSUMER_PID 24
#define OFF_MAX_MESSAGE 28
#define OFF_SEG_SIZE 32
#define MAGIC 0x434e5953u /* "SYNC" */
#ifndef RING_KIND
#define RING_KIND 1 /* semring; fast.h defines 2 before including this file */
#endif
/* semring header, offsets 64..127, then the slots. */
#define OFF_SLOTS 64
#define OFF_SLOT_SIZE 68
#define OFF_STRIDE 72
#define OFF_DONE 76
#define OFF_SENT 80
#define OFF_RECEIVED 88
#define SLOTS_OFFSET 128
#define FLAG_END 1
#define FLAG_MORE 2
#define SEM_EMPTY 0
#define SEM_FULL 1

static unsigned char *seg;
static int semid;
static int peer_off;

static uint32_t *u32(int off) { return (uint32_t *)(seg + off); }
static uint64_t *u64(int off) { return (uint64_t *)(seg + off); }
static uint32_t load32(int off) { return __atomic_load_n(u32(off), __ATOMIC_ACQUIRE); }
static void store32(int off, uint32_t v) { __atomic_store_n(u32(off), v, __ATOMIC_RELEASE); }

static void die(const char *what) {
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	exit(1);
}

static const char *role_name(int off) { return off == OFF_PRODUCER_PID ? "producer" : "consumer"; }

/* alive: does process pid exist and is it not a zombie? kill(pid, 0) sends nothing
 * and fails with ESRCH if there is no such process (EPERM: it exists, but is
 * someone else's). A zombie (dead, not yet reaped) still exists for kill, so the
 * state letter after the last ')' of /proc/PID/stat is checked too. */
static int alive(pid_t pid) {
	if (pid <= 0) return 0;
	if (kill(pid, 0) < 0 && errno != EPERM) return 0;
	char path[64], stat[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f) return 0;
	size_t n = fread(stat, 1, sizeof stat - 1, f);
	fclose(f);
	stat[n] = 0;
	char *paren = strrchr(stat, ')');
	return !(paren && (paren[2] == 'Z' || paren[2] == 'X'));
}

/* claim records this process in the role's pid field: a compare-and-swap from the
 * value found (0, or a dead process's pid) to getpid(). A live holder keeps it. */
static void claim(int off) {
	uint32_t old = load32(off);
	for (;;) {
		if (old != 0 && alive((pid_t)old)) {
			fprintf(stderr, "the %s role is taken by pid %u, which is running; start only one %s\n", role_name(off), old, role_name(off));
			exit(1);
		}
		/* On failure the builtin stores the value it found in old: look again. */
		if (__atomic_compare_exchange_n(u32(off), &old, (uint32_t)getpid(), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return;
	}
}

/* peer_alive: the pid in the peer's field is a live process. */
static int peer_alive(void) { return alive((pid_t)load32(peer_off)); }

static void peer_gone(void) {
	fprintf(stderr, "the peer (pid %u) is gone\n", load32(peer_off));
	exit(1);
}

/* How long to wait for the creator's first semop (sem_otime != 0). A test builds
 * the programs with -DOTIME_WAIT_S=1 to see the give-up without waiting 10 s. */
#ifndef OTIME_WAIT_S
#define OTIME_WAIT_S 10
#endif

/* open_ring opens the segment and set under key, claims the role at my_off, and
 * waits for the peer at peer_offset. The producer passes its largest message, which
 * it stores once its claim has succeeded; the consumer passes 0, and waits for the
 * producer's value. */
static void open_ring(key_t key, int my_off, int peer_offset, uint32_t max_message) {
	int shmid = -1;
	for (int i = 0; i < 1000 && (shmid = shmget(key, 0, 0)) < 0; i++) usleep(10000);
	if (shmid < 0) die("shmget");
	seg = shmat(shmid, NULL, 0);
	if (seg == (void *)-1) die("shmat");
	for (int i = 0; i < 1000 && load32(OFF_MAGIC) != MAGIC; i++) usleep(10000);
	struct shmid_ds shm;
	if (shmctl(shmid, IPC_STAT, &shm) < 0) die("shmctl IPC_STAT");
	if (load32(OFF_MAGIC) != MAGIC || load32(OFF_VERSION) != 1 || load32(OFF_KIND) != RING_KIND || load32(OFF_KIND_VERSION) != 1 ||
	    *u64(OFF_SEG_SIZE) != (uint64_t)shm.shm_segsz) {
		fprintf(stderr, "not a segment of kind %d (1 semring, 2 fast), version 1, whose header gives its size\n", RING_KIND);
		exit(1);
	}
	if ((semid = semget(key, 0, 0)) < 0) die("semget");
	struct semid_ds ds;
	for (int i = 0;; i++) { /* the creator's last step, a semop, sets sem_otime */
		if (semctl(semid, 0, IPC_STAT, &ds) < 0) die("semctl IPC_STAT");
		if (ds.sem_otime != 0) break;
		if (i == OTIME_WAIT_S * 100) {
			fprintf(stderr, "semaphore set %d was never initialised: sem_otime still 0 after %d s (its creator died before its first semop?)\n", semid, OTIME_WAIT_S);
			exit(1);
		}
		usleep(10000);
	}
	claim(my_off);
	/* Producer: max message only now that the role is ours. Stored before the
	 * claim, a producer that is then refused would have overwritten the value of the
	 * producer that holds the role. */
	if (max_message) store32(OFF_MAX_MESSAGE, max_message);
	for (int i = 0; i < 3000 && load32(peer_offset) == 0; i++) usleep(10000);
	if (load32(peer_offset) == 0) { fprintf(stderr, "no peer came\n"); exit(1); }
	peer_off = peer_offset;
	if (!max_message) { /* consumer: the producer stores it right after its claim */
		for (int i = 0;; i++) {
			int was_alive = peer_alive(); /* liveness first, then the condition */
			if (load32(OFF_MAX_MESSAGE) != 0) break;
			if (!was_alive) peer_gone();
			if (i == 30000) { fprintf(stderr, "the producer stored no max message within 30 s\n"); exit(1); }
			usleep(1000);
		}
	}
	shmctl(shmid, IPC_RMID, NULL); /* both attached: remove early */
}


/* sem_wait_n takes n from semaphore num, in 250 ms slices, checking between them
 * that the peer is alive. finished, if not NULL, says whether what the wait is for
 * has happened some other way (the producer's last wait: the consumer has set
 * done); then a timeout or a removed set is not an error. */
static void sem_wait_n(int num, int n, int (*finished)(void)) {
	struct sembuf op = {.sem_num = num, .sem_op = -n, .sem_flg = 0};
	struct timespec ts = {0, 250 * 1000 * 1000};
	for (;;) {
		if (semtimedop(semid, &op, 1, &ts) == 0) return;
		if (errno == EINTR) continue;
		if (errno == EAGAIN) {
			int was_alive = peer_alive(); /* liveness first, then the condition */
			if (finished && finished()) return;
			if (!was_alive) peer_gone();
			continue;
		}
		if (errno == EIDRM || errno == EINVAL) {
			if (finished && finished()) return; /* the consumer finished, then removed the set */
			fprintf(stderr, "the semaphore set was removed: the peer stopped\n");
			exit(1);
		}
		die("semtimedop");
	}
}

/* sem_add adds n to semaphore num. It returns 0, or the errno of a set that is
 * gone (EIDRM, EINVAL), for the caller to judge; other errors end the program. */
static int sem_add(int num, int n) {
	struct sembuf op = {.sem_num = num, .sem_op = n, .sem_flg = 0};
	while (semop(semid, &op, 1) < 0) {
		if (errno == EIDRM || errno == EINVAL) return errno;
		if (errno != EINTR) die("semop");
	}
	return 0;
}

static void sem_post(int num) {
	if (sem_add(num, 1) != 0) {
		fprintf(stderr, "the semaphore set was removed: the peer stopped\n");
		exit(1);
	}
}

/* CRC-32 (IEEE, as Go's hash/crc32 ChecksumIEEE), bit by bit. */
static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n) {
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

static inline size_t message_size(uint64_t i, size_t size, int mixed) {
	if (!mixed || size == 8) return size;
	return 8 + (size_t)(i * 7919 % (size - 7));
}

/* The stream both transports carry (README section 3): data message i is the
 * 8-byte little-endian i, then bytes (i + k) & 0xff; after the last one a 28-byte
 * trailer, itself an ordinary message: UINT64_MAX, the number of data messages, the
 * bytes of all of them (sequence numbers included), and the CRC-32 of those bytes,
 * each little-endian. These memcpy calls of native integers are little-endian on
 * the little-endian machines this course runs on. */
struct tally {
	uint64_t messages, bytes;
	uint32_t crc;
};

/* produce_messages sends the messages and the trailer with send, which delivers
 * one whole message of any length; it returns what it sent. */
static inline struct tally produce_messages(uint64_t messages, size_t size, int mixed,
                                            void (*send)(const unsigned char *, size_t)) {
	unsigned char *msg = malloc(size);
	struct tally sent = {0, 0, 0};
	for (uint64_t i = 0; i < messages; i++) {
		size_t len = message_size(i, size, mixed);
		memcpy(msg, &i, 8); /* the sequence number, little-endian */
		for (size_t k = 8; k < len; k++) msg[k] = (unsigned char)(i + k);
		sent.crc = crc32_update(sent.crc, msg, len);
		sent.bytes += len;
		send(msg, len);
	}
	free(msg);
	sent.messages = messages;
	unsigned char trailer[28];
	uint64_t seq = UINT64_MAX;
	memcpy(trailer, &seq, 8);
	memcpy(trailer + 8, &sent.messages, 8);
	memcpy(trailer + 16, &sent.bytes, 8);
	memcpy(trailer + 24, &sent.crc, 4);
	send(trailer, sizeof trailer);
	return sent;
}

/* consume_messages receives with receive (a message's length, or -1 at the end of
 * the stream) until the end, checks every sequence number, then the count, bytes
 * and CRC against the trailer, removes the set and prints the result; it returns
 * the exit status. */
static inline int consume_messages(long (*receive)(unsigned char *buf, size_t cap)) {
	size_t cap = load32(OFF_MAX_MESSAGE);
	if (cap < 28) cap = 28; /* room for the trailer, whatever the producer stored */
	unsigned char *buf = malloc(cap);
	struct tally got = {0, 0, 0}, want = {0, 0, 0};
	int trailer = 0;
	long n;
	while ((n = receive(buf, cap)) >= 0) {
		uint64_t seq;
		if (n < 8) {
			fprintf(stderr, "message %llu is %ld bytes, shorter than its sequence number\n", (unsigned long long)got.messages, n);
			return 1;
		}
		memcpy(&seq, buf, 8);
		if (trailer) {
			fprintf(stderr, "a message after the trailer\n");
			return 1;
		}
		if (n == 28 && seq == UINT64_MAX) {
			memcpy(&want.messages, buf + 8, 8);
			memcpy(&want.bytes, buf + 16, 8);
			memcpy(&want.crc, buf + 24, 4);
			trailer = 1;
			continue;
		}
		if (seq != got.messages) {
			fprintf(stderr, "out of order: message %llu carries %llu\n", (unsigned long long)got.messages, (unsigned long long)seq);
			return 1;
		}
		for (long k = 8; k < n; k++) { /* the payload pattern, not only its CRC */
			if (buf[k] != (unsigned char)(seq + (uint64_t)k)) {
				fprintf(stderr, "message %llu: byte %ld is 0x%02x, not 0x%02x: the payload is not the documented pattern\n",
				        (unsigned long long)seq, k, buf[k], (unsigned char)(seq + (uint64_t)k));
				return 1;
			}
		}
		got.crc = crc32_update(got.crc, buf, (size_t)n);
		got.bytes += (uint64_t)n;
		got.messages++;
	}
	free(buf);
	semctl(semid, 0, IPC_RMID); /* finished: remove the set */
	if (!trailer || want.messages != got.messages || want.bytes != got.bytes || want.crc != got.crc) {
		fprintf(stderr, "checksum MISMATCH: got %llu messages, %llu bytes, crc32 0x%08x\n",
		        (unsigned long long)got.messages, (unsigned long long)got.bytes, got.crc);
		return 1;
	}
	printf("C consumer: %llu messages, %llu bytes, crc32 0x%08x verified\n",
	       (unsigned long long)got.messages, (unsigned long long)got.bytes, got.crc);
	return 0;
}

static inline void print_sent(struct tally sent) {
	printf("C producer: sent %llu messages, %llu bytes, crc32 0x%08x\n",
	       (unsigned long long)sent.messages, (unsigned long long)sent.bytes, sent.crc);
}
