/* A self-contained subset of libbpf's bpf_helpers.h: section and map-definition macros, helpers by id. */
#ifndef BPFJIT_EXAMPLES_HELPERS_H
#define BPFJIT_EXAMPLES_HELPERS_H

#include "bpf_types.h"

#define SEC(name) __attribute__((section(name), used))
#define __always_inline inline __attribute__((always_inline))
#define __noinline __attribute__((noinline))
#define __weak __attribute__((weak))

/* BTF-defined maps: each field's value is encoded in the member's *type*, read back from BTF by the loader. */
#define ___concat(a, b) a##b
#define ___bpf_concat(a, b) ___concat(a, b)
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __ulong(name, val) enum { ___bpf_concat(__unique_value, __COUNTER__) = val } name

/* Kernel functions resolved by name at load time (call src_reg 2). */
#define __ksym __attribute__((section(".ksyms")))

/* Helpers by id (enum bpf_func_id in include/uapi/linux/bpf.h). */
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *)3;
static long (*bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *)6;
static __u64 (*bpf_get_prandom_u32)(void) = (void *)7;
static long (*bpf_loop)(__u32 nr_loops, void *callback_fn, void *callback_ctx, __u64 flags) = (void *)181;

/* bpf_printk: the format string lives in .rodata, as with libbpf. */
#define bpf_printk(fmt, ...)                                                  \
	({                                                                    \
		static const char ____fmt[] = fmt;                            \
		bpf_trace_printk(____fmt, sizeof(____fmt), ##__VA_ARGS__);    \
	})

#endif
