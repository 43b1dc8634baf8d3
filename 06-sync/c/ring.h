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

/* open_ring opens the segment and set under key, claims the role at my_off, and
 * waits for the peer at peer_offset. The producer passes its largest message. */
static void open_ring(key_t key, int my_off, int peer_offset, uint32_t max_message) {
	int shmid = -1;
	for (int i = 0; i < 1000 && (shmid = shmget(key, 0, 0)) < 0; i++) usleep(10000);
	if (shmid < 0) die("shmget");
	seg = shmat(shmid, NULL, 0);
	if (seg == (void *)-1) die("shmat");
	for (int i = 0; i < 1000 && load32(OFF_MAGIC) != MAGIC; i++) usleep(10000);
	if (load32(OFF_MAGIC) != MAGIC || load32(OFF_VERSION) != 1 || load32(OFF_KIND) != RING_KIND || load32(OFF_KIND_VERSION) != 1) {
		fprintf(stderr, "not a segment of kind %d (1 semring, 2 fast), version 1\n", RING_KIND);
		exit(1);
	}
	if ((semid = semget(key, 0, 0)) < 0) die("semget");
	struct semid_ds ds;
	for (int i = 0; i < 1000; i++) { /* the creator's one semop sets sem_otime */
		if (semctl(semid, 0, IPC_STAT, &ds) < 0) die("semctl IPC_STAT");
		if (ds.sem_otime != 0) break;
		usleep(10000);
	}
	if (max_message) store32(OFF_MAX_MESSAGE, max_message); /* producer: before its pid */
	store32(my_off, (uint32_t)getpid());
	for (int i = 0; i < 3000 && load32(peer_offset) == 0; i++) usleep(10000);
	if (load32(peer_offset) == 0) { fprintf(stderr, "no peer came\n"); exit(1); }
	peer_off = peer_offset;
	shmctl(shmid, IPC_RMID, NULL); /* both attached: remove early */
}

/* sem_wait_n takes n from semaphore num, in 250 ms slices, checking between
 * them that the peer is alive. */
static void sem_wait_n(int num, int n) {
	struct sembuf op = {.sem_num = num, .sem_op = -n, .sem_flg = 0};
	struct timespec ts = {0, 250 * 1000 * 1000};
	for (;;) {
		if (semtimedop(semid, &op, 1, &ts) == 0) return;
		if (errno == EINTR) continue;
		if (errno == EAGAIN) {
			pid_t peer = load32(peer_off);
			if (kill(peer, 0) < 0 && errno == ESRCH) {
				fprintf(stderr, "the peer (pid %d) is gone\n", peer);
				exit(1);
			}
			continue;
		}
		if (errno == EIDRM || errno == EINVAL) {
			if (num == SEM_EMPTY && load32(OFF_DONE) == 1) return; /* consumer finished */
			fprintf(stderr, "the semaphore set was removed: the peer stopped\n");
			exit(1);
		}
		die("semtimedop");
	}
}

static void sem_post(int num) {
	struct sembuf op = {.sem_num = num, .sem_op = 1, .sem_flg = 0};
	while (semop(semid, &op, 1) < 0)
		if (errno != EINTR) die("semop post");
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
