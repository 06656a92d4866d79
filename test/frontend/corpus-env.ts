// Builds the front end's inputs for a corpus program from what the kernel reported (NAME.kernel.json and the
// verifier log), so the front end's output can be compared with the kernel's `xlated_resolved` byte for byte.
// Helper, jiffies, cpu_number and timed-may_goto addresses are not in the corpus: a first run with sentinel
// values finds where they land, and the kernel's values at those slots become the environment of the real run.

import { decode, encode, type Program } from '../../src/isa/index.js';
import { frontEnd, type CallTarget, type FrontEndEnv, type FrontEndResult } from '../../src/jit/frontend/index.js';
import { hexToBytes, type CorpusProgram } from '../helpers/corpus.js';

export interface ParityOutcome {
  readonly result: FrontEndResult;
  readonly expected: Uint8Array;
  readonly actual: Uint8Array;
  readonly equal: boolean;
  /** Helper id → absolute address learned from the kernel's program. */
  readonly helpers: ReadonlyMap<number, bigint>;
  /** The kernel removed dead code (instructions missing from the verifier log). */
  readonly kernelDeadCode: boolean;
}

/** Slot indices printed in the verifier log (the instructions the verifier visited). */
export function visitedFromLog(text: string): Set<number> {
  const out = new Set<number>();
  for (const m of text.matchAll(/^(\d+): /gm)) out.add(Number(m[1]));
  return out;
}

export function kernelDeadCode(prog: Program, visited: ReadonlySet<number>): boolean {
  return prog.insns.some((i) => !visited.has(i.pc));
}

const SENTINEL_BASE = 0x7ead0000n;

export function baseEnv(p: CorpusProgram): { env: FrontEndEnv; targets: Map<string, CallTarget> } {
  const side = p.sidecar();
  const k = p.kernel();
  const callBase = BigInt(k.call_base);
  const targets = new Map<string, CallTarget>();
  const kfuncAddrs = k.kfunc_addrs ?? {};
  let next = 0;
  const sentinelFor = new Map<string, bigint>();
  const resolveCall = (t: CallTarget): bigint => {
    if (t.kind === 'kfunc' && kfuncAddrs[t.name]) return BigInt(kfuncAddrs[t.name]!);
    const key = t.kind === 'helper' ? `h${t.id}` : t.name;
    if (!sentinelFor.has(key)) {
      sentinelFor.set(key, callBase + SENTINEL_BASE + BigInt(next++));
      targets.set(key, t);
    }
    return sentinelFor.get(key)!;
  };
  const arena = side.arena
    ? {
        mapPtr: BigInt(k.map_ptr ?? 0),
        userVmStart: BigInt(k.user_vm_start ?? 0),
        kernVmStart: BigInt(k.kern_vm_start ?? 0),
        flags: side.arena.flags,
      }
    : null;
  const env: FrontEndEnv = {
    callBase,
    resolveCall,
    kfuncs: side.kfuncs,
    arena,
    jiffiesAddr: 0x7eadbeef00000000n,
    cpuNumberAddr: 0x7eadbee0,
  };
  return { env, targets };
}

function slotsOf(bytes: Uint8Array): { code: number; imm: number; imm2: number }[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  for (let i = 0; i + 8 <= bytes.length; i += 8) {
    out.push({ code: v.getUint8(i), imm: v.getInt32(i + 4, true), imm2: i + 12 <= bytes.length ? v.getInt32(i + 12, true) : 0 });
  }
  return out;
}

/** Runs the front end on a corpus program with the kernel's addresses and visited set. */
export function runParity(p: CorpusProgram, opts: { useVisited: boolean } = { useVisited: true }): ParityOutcome {
  const prog = decode(p.bin());
  const visited = visitedFromLog(p.kernelText());
  const expected = hexToBytes(p.kernel().xlated_resolved);
  const { env, targets } = baseEnv(p);
  const withVisited: FrontEndEnv = opts.useVisited ? { ...env, visited } : env;
  const first = frontEnd(prog, withVisited);
  const firstBytes = encode(first.prog);
  const exp = slotsOf(expected);
  const mine = slotsOf(firstBytes);
  // Learn the kernel's values where the sentinels landed (only meaningful when the shapes agree).
  const learned = new Map<string, bigint>();
  const helpers = new Map<number, bigint>();
  let jiffies: bigint | undefined;
  let cpuNumber: number | undefined;
  const pairs = alignSlots(firstBytes, expected);
  {
    for (const [i, k] of pairs) {
      const m = mine[i]!;
      const e = exp[k]!;
      if (m.code === 0x85 && m.imm !== e.imm) {
        const addr = env.callBase + BigInt(m.imm);
        for (const [key] of targets) {
          if (env.resolveCall(targets.get(key)!) === addr) learned.set(key, env.callBase + BigInt(e.imm));
        }
      }
      if (m.code === 0x18 && m.imm === 0 && m.imm2 === 0x7eadbeef) jiffies = (BigInt(e.imm2 >>> 0) << 32n) | BigInt(e.imm >>> 0);
      if (m.code === 0xb7 && m.imm === 0x7eadbee0) cpuNumber = e.imm;
    }
  }
  for (const [key, t] of targets) if (t.kind === 'helper' && learned.has(key)) helpers.set(t.id, learned.get(key)!);
  const real: FrontEndEnv = {
    ...withVisited,
    resolveCall: (t) => {
      const key = t.kind === 'helper' ? `h${t.id}` : t.name;
      return learned.get(key) ?? env.resolveCall(t);
    },
    jiffiesAddr: jiffies ?? 0n,
    cpuNumberAddr: cpuNumber ?? 0,
  };
  // Without sentinels to replace, the first run already had the real environment.
  const again = learned.size > 0 || jiffies !== undefined || cpuNumber !== undefined;
  const result = again ? frontEnd(prog, real) : first;
  const actual = again ? encode(result.prog) : firstBytes;
  const equal = actual.length === expected.length && actual.every((b, i) => b === expected[i]);
  return { result, expected, actual, equal, helpers, kernelDeadCode: kernelDeadCode(prog, visited) };
}

/**
 * True when `actual` differs from `expected` only by `w0 = w0` zero-extensions after 32-bit cmpxchg that the
 * kernel did not insert (6.18 marks them only on paths it explores before pruning) and the jump offsets that
 * cross them.
 */
export function explainZextOnly(actual: Uint8Array, expected: Uint8Array): boolean {
  const a = slotsOfFull(actual);
  const e = slotsOfFull(expected);
  if (a.length <= e.length) return false;
  return zextWalk(a, e, undefined);
}

/** Slot pairs (ours, kernel's): identical positions, or positions after skipping our extra cmpxchg zexts. */
function alignSlots(actual: Uint8Array, expected: Uint8Array): [number, number][] {
  const a = slotsOfFull(actual);
  const e = slotsOfFull(expected);
  const pairs: [number, number][] = [];
  if (a.length === e.length) {
    for (let i = 0; i < a.length; i++) pairs.push([i, i]);
    return pairs;
  }
  return zextWalk(a, e, pairs) ? pairs : [];
}

type Raw = { code: number; regs: number; off: number; imm: number };

function zextWalk(a: Raw[], e: Raw[], pairs: [number, number][] | undefined): boolean {
  let i = 0;
  let j = 0;
  let skipped = 0;
  while (i < a.length && j < e.length) {
    const x = a[i]!;
    const y = e[j]!;
    const isZext = x.code === 0xbc && x.regs === 0 && x.off === 0 && x.imm === 1;
    const afterCmpxchg = i > 0 && (a[i - 1]!.code === 0xc3 || a[i - 1]!.code === 0xdb) && a[i - 1]!.imm === 0xf1;
    if (isZext && afterCmpxchg && !(y.code === 0xbc && y.imm === 1)) {
      i++;
      skipped++;
      continue;
    }
    const isJump = (x.code & 7) === 5 || (x.code & 7) === 6;
    const learnable = pairs !== undefined && (x.code === 0x85 || x.code === 0xb7 || x.code === 0x18 || x.code === 0);
    if (x.code !== y.code || x.regs !== y.regs || (!isJump && !learnable && (x.off !== y.off || x.imm !== y.imm))) return false;
    pairs?.push([i, j]);
    i++;
    j++;
  }
  return skipped > 0 && i === a.length && j === e.length;
}

function slotsOfFull(bytes: Uint8Array): Raw[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  for (let i = 0; i + 8 <= bytes.length; i += 8) out.push({ code: v.getUint8(i), regs: v.getUint8(i + 1), off: v.getInt16(i + 2, true), imm: v.getInt32(i + 4, true) });
  return out;
}

/** `sub rsp, N` of each function image (0 when the prologue has none). */
export function imageStackSizes(p: CorpusProgram): number[] {
  const k = p.kernel();
  const img = hexToBytes(k.jited);
  const out: number[] = [];
  let at = 0;
  for (const len of k.func_lens) {
    const f = img.subarray(at, at + len);
    at += len;
    // nop5; nop3 or xor rax,rax; push rbp; mov rbp,rsp; then optionally sub rsp, imm32
    const i = 5 + 3 + 1 + 3;
    out.push(f[i] === 0x48 && f[i + 1] === 0x81 && f[i + 2] === 0xec ? new DataView(f.buffer, f.byteOffset + i + 3, 4).getInt32(0, true) : 0);
  }
  return out;
}
