// Hello world: print through bpf_printk (format string in .rodata) and return a value.
#include "bpf_helpers.h"

int calls = 0; /* .bss */

SEC("syscall")
int hello(void *ctx)
{
	calls++;
	bpf_printk("hello, world %d", calls);
	return 42;
}

char LICENSE[] SEC("license") = "GPL";
