// A hash table in the arena: buckets of chained entries, all in arena memory.
#include "bpf_arena.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 64);
} arena SEC(".maps");

#define NR_BUCKETS 32

struct entry {
	struct entry __arena *next;
	__u32 key;
	__u32 value;
};

struct entry __arena *buckets[NR_BUCKETS] __arena;
struct entry __arena *free_mem;
__u32 __arena free_left;
__u32 __arena nr_entries;

static __always_inline __u32 hash(__u32 key)
{
	return (key * 2654435761u) % NR_BUCKETS;
}

static __noinline struct entry __arena *new_entry(void)
{
	struct entry __arena *e;

	if (free_left == 0) {
		free_mem = bpf_arena_alloc_pages(&arena, NULL, 1, NUMA_NO_NODE, 0);
		if (!free_mem)
			return NULL;
		free_left = PAGE_SIZE / sizeof(struct entry);
	}
	e = free_mem;
	free_mem = e + 1;
	free_left--;
	return e;
}

static __noinline int htab_update(__u32 key, __u32 value)
{
	struct entry __arena *e;
	__u32 b = hash(key);
	int i;

	e = buckets[b];
	for (i = 0; i < 16 && e; i++) {
		if (e->key == key) {
			e->value = value;
			return 0;
		}
		e = e->next;
	}
	e = new_entry();
	if (!e)
		return -1;
	e->key = key;
	e->value = value;
	e->next = buckets[b];
	buckets[b] = e;
	nr_entries++;
	return 0;
}

static __noinline __s64 htab_lookup(__u32 key)
{
	struct entry __arena *e = buckets[hash(key)];
	int i;

	for (i = 0; i < 16 && e; i++) {
		if (e->key == key)
			return e->value;
		e = e->next;
	}
	return -1;
}

SEC("syscall")
int htab_test(void *ctx)
{
	__u64 sum = 0;
	__u32 i;

	for (i = 0; i < 20; i++)
		if (htab_update(i, i * i))
			return -1;
	for (i = 0; i < 20; i++) {
		__s64 v = htab_lookup(i);

		if (v < 0)
			return -2;
		sum += v;
	}
	return sum; /* 0 + 1 + 4 + ... + 361 = 2470 */
}

char LICENSE[] SEC("license") = "GPL";
