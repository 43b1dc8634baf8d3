/* producer.c: the 06-sync producer in C. usage: producer KEY MESSAGES SIZE MIXED */
#include "ring.h"

static uint64_t sent;

/* consumer_done: the consumer has taken the end marker (it stores done, then posts). */
static int consumer_done(void) { return load32(OFF_DONE) == 1; }

static void put(const unsigned char *chunk, uint32_t len, uint32_t flags) {
	uint32_t slots = load32(OFF_SLOTS), stride = load32(OFF_STRIDE);
	sem_wait_n(SEM_EMPTY, 1, NULL);
	unsigned char *slot = seg + SLOTS_OFFSET + (sent % slots) * stride;
	memcpy(slot, &len, 4);
	memcpy(slot + 4, &flags, 4);
	memcpy(slot + 8, chunk, len);
	sent++;
	__atomic_store_n(u64(OFF_SENT), sent, __ATOMIC_RELEASE);
	sem_post(SEM_FULL);
}

static void send_message(const unsigned char *msg, size_t len) {
	uint32_t slot_size = load32(OFF_SLOT_SIZE);
	do {
		uint32_t n = len < slot_size ? (uint32_t)len : slot_size;
		put(msg, n, n < len ? FLAG_MORE : 0);
		msg += n;
		len -= n;
	} while (len > 0);
}

int main(int argc, char **argv) {
	if (argc != 5) { fprintf(stderr, "usage: producer KEY MESSAGES SIZE MIXED\n"); return 2; }
	key_t key = (key_t)strtoul(argv[1], NULL, 0);
	uint64_t messages = strtoull(argv[2], NULL, 0);
	size_t size = strtoul(argv[3], NULL, 0);
	int mixed = atoi(argv[4]);
	open_ring(key, OFF_PRODUCER_PID, OFF_CONSUMER_PID, size < 28 ? 28 : size); /* room for the trailer */
	struct tally sent = produce_messages(messages, size, mixed, send_message);
	put(NULL, 0, FLAG_END);
	sem_wait_n(SEM_EMPTY, (int)load32(OFF_SLOTS), consumer_done); /* until the consumer has taken it all */
	semctl(semid, 0, IPC_RMID); /* finished: remove the set (the consumer may have already) */
	print_sent(sent);
	return 0;
}
