// src/arena — the BPF arena map model (Linux 6.18 kernel/bpf/arena.c): creation checks, address layout,
// the kernel's page allocator (range tree), the kfuncs, host memory for the emulator and the user-space view.
import type { ArenaSpec } from '../env.js';
import { Arena, type ArenaOptions } from './arena.js';
import { ArenaFlag } from './constants.js';

export { Arena, type ArenaListener, type ArenaOptions, type ArenaPage } from './arena.js';
export { ArenaConfigError, type ArenaAttr, placeUserRange, type UserRange, validateArenaAttr } from './config.js';
export {
  ARENA_ALLOWED_FLAGS, ArenaFlag, BPF_MAP_TYPE_ARENA, DEFAULT_KERN_VM_START, DEFAULT_MMAP_TOP, Errno as ArenaErrno,
  GUARD_SZ as ARENA_GUARD_SZ, KERN_VM_SZ as ARENA_KERN_VM_SZ, MAX_ARENA_PAGES, NUMA_NO_NODE, PAGE_SIZE as ARENA_PAGE_SIZE,
} from './constants.js';
import { applyPrefault } from './corpus.js';
export { applyPrefault, allocatedPages, dumpPages, arenaPageDump, type ArenaPageDump } from './corpus.js';
export { ArenaFault, type ArenaFaultReason } from './fault.js';
export { defaultPageMemory, type HostPage, JsPageMemory, nativeMemoryAvailable, NativePageMemory, type PageMemory } from './host.js';
export { type ArenaKfunc, arenaKfuncs } from './kfuncs.js';
export { RangeTree } from './range-tree.js';
export { readKern, readUser, readUserUint, writeKern, writeUser, writeUserUint } from './views.js';

/** An arena from an ENV.json / sidecar `arena` spec (BPF_F_MMAPABLE implied), mmapped like the corpus did. */
export function arenaFromSpec(spec: ArenaSpec, opts: ArenaOptions = {}): Arena {
  return new Arena(
    { maxEntries: spec.pages, flags: spec.flags | ArenaFlag.MMAPABLE, mapExtra: BigInt(spec.map_extra) },
    opts,
  );
}

/** The arena of a run environment with its `prefault` pages written (null without one); the caller disposes it. */
export function arenaFromEnv(env: { readonly arena: ArenaSpec | null; readonly prefault: Readonly<Record<string, string>> }, opts: ArenaOptions = {}): Arena | null {
  if (!env.arena) return null;
  const arena = arenaFromSpec(env.arena, opts);
  try {
    applyPrefault(arena, env.prefault);
  } catch (e) {
    arena.dispose();
    throw e;
  }
  return arena;
}
