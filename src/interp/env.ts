// Builds interpreter options from a run environment (ENV.json / corpus sidecar): the context, the arena
// with its pre-written pages, and the arena kfuncs named in the kfunc table.
import type { RunEnv } from '../env.js';
import { ARENA_PAGE_SIZE, SparseArena } from './arena.js';
import type { HelperFn, InterpOptions } from './interp.js';
import { Layout } from './memory.js';

export const BPF_F_NO_USER_CONV = 1 << 18;

/** The arena kfuncs by name. Arguments follow the kernel's prototypes. */
export const ARENA_KFUNCS: Readonly<Record<string, HelperFn>> = {
  // void *bpf_arena_alloc_pages(void *map, void *addr_hint, u32 page_cnt, int node_id, u64 flags)
  bpf_arena_alloc_pages: ({ args, arena }) =>
    arena ? arena.allocPages(args[1], Number(BigInt.asUintN(32, args[2])), Number(BigInt.asIntN(32, args[3])), args[4]) : 0n,
  // void bpf_arena_free_pages(void *map, void *ptr, u32 page_cnt)
  bpf_arena_free_pages: ({ args, arena }) => {
    const count = Number(BigInt.asUintN(32, args[2]));
    if (args[1] !== 0n && count !== 0) arena?.freePages(args[1], count); // a NULL pointer frees nothing
    return 0n;
  },
};

/** Kfunc table of raw bytecode ("0x101" → name) → interpreter kfuncs. Unknown names are left out. */
export function kfuncsFromTable(table: Readonly<Record<string, string>>): Record<number, HelperFn> {
  const out: Record<number, HelperFn> = {};
  for (const [key, name] of Object.entries(table)) {
    const fn = ARENA_KFUNCS[name];
    if (fn) out[Number(BigInt.asIntN(32, BigInt(key)))] = fn;
  }
  return out;
}

/**
 * Options for running a program in its environment. `userVmStart` fixes the arena's user address when
 * map_extra is 0 (the kernel chose it at mmap time); otherwise map_extra or a default is used.
 */
export function optionsFromEnv(env: RunEnv, userVmStart?: bigint): InterpOptions & { arena: SparseArena | null } {
  let arena: SparseArena | null = null;
  if (env.arena) {
    const start = BigInt(env.arena.map_extra) || userVmStart || Layout.DEFAULT_USER_VM_START;
    arena = new SparseArena({
      pages: env.arena.pages,
      userVmStart: start,
      noUserConv: (env.arena.flags & BPF_F_NO_USER_CONV) !== 0,
    });
    for (const [pgoff, data] of Object.entries(env.prefault)) {
      const page = arena.ensurePage(Number(pgoff));
      page.set(Buffer.from(data, 'hex').subarray(0, ARENA_PAGE_SIZE));
    }
  }
  return {
    ctx: new Uint8Array(Buffer.from(env.ctx, 'hex')),
    arena,
    kfuncs: kfuncsFromTable(env.kfuncs),
  };
}
