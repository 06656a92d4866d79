// Numbers of the Linux 6.18 BPF arena (kernel/bpf/arena.c, include/uapi/linux/bpf.h) used by the model.

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const SZ_4G = 1n << 32n;
/** Bytes reachable by an s16 `off` around a 32-bit pointer, rounded up to 2 pages: 64 KiB, half on each side. */
export const GUARD_SZ = 1n << 16n;
/** Size of the kernel vm area: kern_vm_start lies GUARD_SZ / 2 into it. */
export const KERN_VM_SZ = SZ_4G + GUARD_SZ;
/** Largest max_entries: the user range must fit in 4 GiB. */
export const MAX_ARENA_PAGES = Number(SZ_4G / BigInt(PAGE_SIZE));

export const BPF_MAP_TYPE_ARENA = 33;

export const ArenaFlag = {
  /** Required: the arena is shared with user space through mmap. */
  MMAPABLE: 1 << 10,
  /** A user access to a page the program did not allocate raises SIGSEGV instead of allocating it. */
  SEGV_ON_FAULT: 1 << 17,
  /** The verifier drops cast-to-user (pointers keep only their lower 32 bits). */
  NO_USER_CONV: 1 << 18,
} as const;
export const ARENA_ALLOWED_FLAGS = ArenaFlag.MMAPABLE | ArenaFlag.SEGV_ON_FAULT | ArenaFlag.NO_USER_CONV;

/** NUMA_NO_NODE: bpf_arena_alloc_pages' "any node". */
export const NUMA_NO_NODE = -1;

/** The errno values the arena code returns (x86-64 Linux numbering). */
export const Errno = {
  EFAULT: 14,
  EBUSY: 16,
  EINVAL: 22,
  ERANGE: 34,
  E2BIG: 7,
  ENOMEM: 12,
} as const;
export type ErrnoName = keyof typeof Errno;

/**
 * Defaults resembling what the reference kernel picked: kern_vm_start in the vmalloc area, and the top of the
 * free gap the corpus generator's process mmapped below (each arena landed at top - 2 * size).
 */
export const DEFAULT_KERN_VM_START = 0xffffc90002c81000n;
export const DEFAULT_MMAP_TOP = 0x7f25a1640000n;

export const U32 = 0xffffffffn;
export const lower32 = (v: bigint): bigint => v & U32;
/** clear_lo32(): the upper 32 bits kept in place. */
export const clearLo32 = (v: bigint): bigint => BigInt.asUintN(64, v) & ~U32;
