// Array and hash maps, .data/.rodata/.bss globals and bpf_loop with a callback (ld_imm64 src 4).
#include "bpf_helpers.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u64);
} squares SEC(".maps");

const volatile __u32 loops = 16;   /* .rodata */
__u64 total = 7;                   /* .data */
__u32 last_index;                  /* .bss */

struct loop_ctx {
	__u64 sum;
};

static long square_cb(__u32 index, void *data)
{
	struct loop_ctx *lc = data;
	__u64 sq = (__u64)index * index;

	bpf_map_update_elem(&squares, &index, &sq, BPF_ANY);
	lc->sum += sq;
	last_index = index;
	return 0;
}

SEC("syscall")
int sum_squares(void *ctx)
{
	struct loop_ctx lc = { .sum = 0 };
	__u32 key = 0;
	__u64 *cnt;

	bpf_loop(loops, square_cb, &lc, 0);
	cnt = bpf_map_lookup_elem(&counters, &key);
	if (cnt)
		*cnt += 1;
	total += lc.sum;
	return lc.sum; /* 0 + 1 + ... + 225 = 1240 */
}

SEC("xdp")
int xdp_count(void *ctx)
{
	__u32 key = 1;
	__u64 *cnt = bpf_map_lookup_elem(&counters, &key);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	return 2; /* XDP_PASS */
}

SEC("tracepoint/syscalls/sys_enter_write")
int tp_write(void *ctx)
{
	__u32 key = 2;
	__u64 *val = bpf_map_lookup_elem(&squares, &key);

	return val ? (int)*val : 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
