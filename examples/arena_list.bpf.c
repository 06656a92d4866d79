// An arena linked list: BPF allocates nodes with bpf_arena_alloc_pages, links them and sums them;
// user space can later walk the same list through the user pointers stored in `head`/`next`.
#include "bpf_arena.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 16); /* pages */
	__ulong(map_extra, 1ull << 32); /* fixed user_vm_start */
} arena SEC(".maps");

struct node {
	struct node __arena *next;
	__u64 value;
};

/* Arena globals (.addr_space.1): placed at the start of the arena by the loader. */
struct node __arena * __arena head;
__u64 __arena arena_sum = 0;
__u8 __arena * __arena cur_page;
__u32 __arena cur_off;

/* Ordinary globals: .rodata and .data become array maps. */
const volatile __u32 nr_nodes = 10;
__u64 list_len = 0;

/* A bump allocator over whole arena pages. */
static __noinline void __arena *arena_alloc(__u32 size)
{
	void __arena *p;

	if (!cur_page || cur_off + size > PAGE_SIZE) {
		cur_page = bpf_arena_alloc_pages(&arena, NULL, 1, NUMA_NO_NODE, 0);
		if (!cur_page)
			return NULL;
		cur_off = 0;
	}
	p = cur_page + cur_off;
	cur_off += size;
	return p;
}

/* A global function: verified on its own, its argument is an arena pointer (decl_tag "arg:arena"). */
__noinline __u64 list_sum(struct node __arena *n __arg_arena)
{
	__u64 sum = 0;
	int i;

	for (i = 0; i < 64 && n; i++) {
		sum += n->value;
		n = n->next;
	}
	return sum;
}

SEC("syscall")
int build_list(void *ctx)
{
	__u32 i;

	for (i = 0; i < nr_nodes && i < 64; i++) {
		struct node __arena *n = arena_alloc(sizeof(*n));

		if (!n)
			return 1;
		n->value = i + 1;
		n->next = head;
		head = n;
		list_len++;
	}
	arena_sum = list_sum(head);
	return 0;
}

SEC("syscall")
int free_list(void *ctx)
{
	struct node __arena *n = head;
	__u64 sum = list_sum(n);

	if (cur_page)
		bpf_arena_free_pages(&arena, cur_page, 1);
	head = NULL;
	cur_page = NULL;
	return sum;
}

char LICENSE[] SEC("license") = "GPL";
