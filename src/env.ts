// The run environment of a program (ENV.json): exactly the kernel corpus sidecar format —
// the arena map, the kfunc table for raw bytecode, pages pre-written by user space, and the context.
import { BpfError } from './errors.js';

export interface ArenaSpec {
  /** max_entries: number of 4 KiB pages. */
  readonly pages: number;
  /** map_flags (BPF_F_MMAPABLE is implied/required, BPF_F_SEGV_ON_FAULT, BPF_F_NO_USER_CONV). */
  readonly flags: number;
  /** Fixed user_vm_start, or 0 to let the mmap choose. */
  readonly map_extra: number | bigint;
}

export interface RunEnv {
  readonly arena: ArenaSpec | null;
  /** Raw-bytecode kfunc placeholders: call imm (as "0x101") → kfunc name. */
  readonly kfuncs: Readonly<Record<string, string>>;
  /** Arena pages written from user space before the run: page offset → 4096-byte hex. */
  readonly prefault: Readonly<Record<string, string>>;
  /** Context bytes as hex (r1 points at a copy; copied back after the run). */
  readonly ctx: string;
}

export const DEFAULT_ENV: RunEnv = { arena: null, kfuncs: {}, prefault: {}, ctx: '' };

/** Checks and normalises a parsed ENV.json / sidecar object; unknown extra fields are ignored. */
export function parseEnv(value: unknown, source = 'env'): RunEnv {
  const fail = (msg: string): never => {
    throw new BpfError({ message: `${source}: ${msg}` });
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('expected a JSON object');
  const o = value as Record<string, unknown>;
  let arena: ArenaSpec | null = null;
  if (o.arena !== undefined && o.arena !== null) {
    const a = o.arena as Record<string, unknown>;
    if (typeof a !== 'object') fail('"arena" must be an object or null');
    if (!Number.isInteger(a.pages) || (a.pages as number) <= 0) fail('"arena.pages" must be a positive integer');
    if (a.flags !== undefined && !Number.isInteger(a.flags)) fail('"arena.flags" must be an integer');
    const extra = a.map_extra ?? 0;
    if (typeof extra !== 'number' && typeof extra !== 'string') fail('"arena.map_extra" must be a number');
    // BigInt() throws SyntaxError/RangeError on "1e3", "12(", 1.5: bad input, reported as such.
    if (typeof extra === 'number' ? !Number.isInteger(extra) : !/^\s*(|-?\d+|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+)\s*$/.test(extra as string))
      fail('"arena.map_extra" must be an integer (decimal or 0x hex)');
    arena = { pages: a.pages as number, flags: (a.flags as number | undefined) ?? 0, map_extra: BigInt(extra as number | string) };
  }
  const table = (key: string): Record<string, string> => {
    const t = o[key];
    if (t === undefined || t === null) return {};
    if (typeof t !== 'object' || Array.isArray(t)) return fail(`"${key}" must be an object`);
    for (const [k, v] of Object.entries(t)) if (typeof v !== 'string') fail(`"${key}.${k}" must be a string`);
    return t as Record<string, string>;
  };
  const ctx = o.ctx ?? '';
  if (typeof ctx !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(ctx)) fail('"ctx" must be a hex string');
  return { arena, kfuncs: table('kfuncs'), prefault: table('prefault'), ctx: ctx as string };
}
