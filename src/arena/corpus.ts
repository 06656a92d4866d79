// The arena in the kernel corpus' format: sidecar `prefault` pages written from user space before the run,
// and the `arena_pages_after` / `arena_allocated_after` records of what the kernel left behind.
import { BpfError } from '../errors.js';
import type { Arena } from './arena.js';
import { PAGE_SIZE } from './constants.js';
import { ArenaFault } from './fault.js';
import { writeUser } from './views.js';

const HEX_PAGE = /^[0-9a-fA-F]{8192}$/;

/**
 * Writes each page through the user view, in the record's key order (ascending pgoff for a parsed JSON
 * object), which faults pages in exactly as the generator's writes through the mmap did.
 */
export function applyPrefault(arena: Arena, pages: Readonly<Record<string, string>>, source = 'prefault'): void {
  if (!arena.mmapped) throw new BpfError({ message: `${source}: the arena is not mmapped` });
  const count = Number((arena.userVmEnd - arena.userVmStart) / BigInt(PAGE_SIZE));
  for (const [key, hex] of Object.entries(pages)) {
    if (!/^(0|[1-9][0-9]*)$/.test(key) || Number(key) >= count)
      throw new BpfError({ message: `${source}: page offset "${key}" is not one of the arena's ${count} pages` });
    if (typeof hex !== 'string' || !HEX_PAGE.test(hex))
      throw new BpfError({ message: `${source}.${key}: expected ${PAGE_SIZE} bytes as hex` });
    try {
      writeUser(arena, arena.userVmStart + BigInt(key) * BigInt(PAGE_SIZE), Buffer.from(hex, 'hex'));
    } catch (e) {
      // Under BPF_F_SEGV_ON_FAULT user space cannot create pages: the kernel would kill the writer.
      if (e instanceof ArenaFault) throw new BpfError({ message: `${source}.${key}: ${e.message}` });
      throw e;
    }
  }
}

/** `arena_allocated_after`: page offsets of every allocated page of the user mapping, ascending. */
export function allocatedPages(arena: Arena): number[] {
  return arena.pages().filter((p) => p.userAddr !== null).map((p) => p.pgoff);
}

/** `arena_pages_after`: {pgoff: lowercase hex} of the allocated pages that hold a non-zero byte. */
export function dumpPages(arena: Arena): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of arena.pages()) {
    if (p.userAddr !== null && p.bytes.some((b) => b !== 0)) out[String(p.pgoff)] = Buffer.from(p.bytes).toString('hex');
  }
  return out;
}

/** One allocated page in both views: `bpfjit run --arena-dump`. */
export interface ArenaPageDump {
  readonly pgoff: number;
  readonly kernAddr: string;
  readonly userAddr: string | null;
  /** The page's bytes as hex, or null when all zero. */
  readonly bytes: string | null;
}

/** Every allocated page (zero ones too) with its kernel and user address, in page order. */
export function arenaPageDump(arena: Arena): ArenaPageDump[] {
  return arena.pages().map((p) => ({
    pgoff: p.pgoff,
    kernAddr: `0x${p.kernAddr.toString(16)}`,
    userAddr: p.userAddr === null ? null : `0x${p.userAddr.toString(16)}`,
    bytes: p.bytes.some((b) => b !== 0) ? Buffer.from(p.bytes).toString('hex') : null,
  }));
}
