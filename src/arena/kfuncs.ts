// The arena kfuncs as the emulator's call table sees them: raw argument registers (r1..r5 as u64) in, the
// value left in r0 out. r1 (the map pointer) is not looked at: the caller resolves which arena it names.
import type { Arena } from './arena.js';

/** A kfunc over one arena: args are r1..r5 (u64), the result is r0 (u64). */
export type ArenaKfunc = (args: readonly bigint[]) => bigint;

const arg = (args: readonly bigint[], i: number): bigint => BigInt.asUintN(64, args[i] ?? 0n);

/**
 * bpf_arena_alloc_pages(map, addr__ign, page_cnt, node_id, flags) → user pointer or 0;
 * bpf_arena_free_pages(map, ptr__ign, page_cnt) → r0 not meaningful (0 here);
 * bpf_arena_reserve_pages(map, ptr__ign, page_cnt) → int, zero-extended into r0 (0xfffffff0 for -EBUSY, as
 * measured on the reference kernel: the kfunc's `mov eax, …` clears the upper half).
 */
export function arenaKfuncs(arena: Arena): Readonly<Record<string, ArenaKfunc>> {
  return {
    bpf_arena_alloc_pages: (a) => arena.allocPages(arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4)),
    bpf_arena_free_pages: (a) => {
      arena.freePages(arg(a, 1), arg(a, 2));
      return 0n;
    },
    bpf_arena_reserve_pages: (a) => BigInt.asUintN(32, BigInt(arena.reservePages(arg(a, 1), arg(a, 2)))),
  };
}
