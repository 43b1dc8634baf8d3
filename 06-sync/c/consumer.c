/* consumer.c: the 06-sync consumer in C. usage: consumer KEY */
#include "ring.h"

static uint64_t received;

/* receive copies the next message into buf; returns its length, or -1 at end. */
static long receive(unsigned char *buf, size_t cap) {
	uint32_t slots = load32(OFF_SLOTS), stride = load32(OFF_STRIDE);
	size_t n = 0;
	for (;;) {
		sem_wait_n(SEM_FULL, 1, NULL);
		unsigned char *slot = seg + SLOTS_OFFSET + (received % slots) * stride;
		uint32_t len, flags;
		memcpy(&len, slot, 4);
		memcpy(&flags, slot + 4, 4);
		received++;
		__atomic_store_n(u64(OFF_RECEIVED), received, __ATOMIC_RELEASE);
		if (flags & FLAG_END) {
			store32(OFF_DONE, 1); /* before the post: the producer may finish once it sees done */
			sem_add(SEM_EMPTY, 1); /* the set may be gone already (that producer removed it): fine */
			return -1;
		}
		if (n + len > cap) { fprintf(stderr, "message too long\n"); exit(1); }
		memcpy(buf + n, slot + 8, len);
		n += len;
		sem_post(SEM_EMPTY);
		if (!(flags & FLAG_MORE)) return (long)n;
	}
}

int main(int argc, char **argv) {
	if (argc != 2) { fprintf(stderr, "usage: consumer KEY\n"); return 2; }
	key_t key = (key_t)strtoul(argv[1], NULL, 0);
	open_ring(key, OFF_CONSUMER_PID, OFF_PRODUCER_PID, 0);
	return consume_messages(receive);
}
