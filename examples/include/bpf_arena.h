/* Arena support for the examples, after the kernel selftests' bpf_arena_common.h. */
#ifndef BPFJIT_EXAMPLES_ARENA_H
#define BPFJIT_EXAMPLES_ARENA_H

#include "bpf_helpers.h"

#ifndef __BPF_FEATURE_ADDR_SPACE_CAST
#error "needs clang with address_space(1) casts (clang >= 18, -mcpu=v4)"
#endif

/* Pointers into the arena; globals with this qualifier go to ELF section .addr_space.1. */
#define __arena __attribute__((address_space(1)))
/* Marks a global function's argument as an arena pointer (BTF decl_tag "arg:arena"). */
#define __arg_arena __attribute__((btf_decl_tag("arg:arena")))

/* The compiler emits the addr_space_cast instructions itself. */
#define cast_kern(ptr) /* nop */
#define cast_user(ptr) /* nop */

#define PAGE_SIZE 4096
#define NUMA_NO_NODE (-1)

void __arena *bpf_arena_alloc_pages(void *map, void __arena *addr, __u32 page_cnt, int node_id,
				    __u64 flags) __ksym __weak;
void bpf_arena_free_pages(void *map, void __arena *ptr, __u32 page_cnt) __ksym __weak;

#endif
