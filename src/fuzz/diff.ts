// src/fuzz — one differential check (Unicorn path vs interpreter) and delta-debugging of a diverging case
// down to a small reproducer (fewest instructions, simplest environment) that still diverges the same way.
import { BpfError } from '../errors.js';
import type { RunEnv } from '../env.js';
import type { Program } from '../isa/insn.js';
import { LAYOUT } from '../emu/index.js';
import { Layout } from '../interp/index.js';
import { EditList } from './edit.js';
import { runInterp, type EmuPath, type Outcome, type RunLimits, FUZZ_LIMITS } from './pipeline.js';

export type Verdict =
  | { readonly kind: 'same'; readonly fault: string | null }
  /** The front end or JIT refused the program (a clean BpfError): nothing to compare. */
  | { readonly kind: 'refused'; readonly message: string }
  | { readonly kind: 'diverged'; readonly fields: readonly string[]; readonly detail: string }
  /** One engine hit its limit (time or instruction budget) on a long run the other finished: undecided. */
  | { readonly kind: 'inconclusive'; readonly detail: string }
  /**
   * A divergence that disappears when the interpreter is given the verifier's rewrite of ALU64 on arena
   * pointers into ALU32 (which the interpreter does not model): the emulator path follows the kernel.
   */
  | { readonly kind: 'explained'; readonly reason: string; readonly fields: readonly string[] }
  /** An engine threw something other than BpfError: a bug whatever the program. */
  | { readonly kind: 'crashed'; readonly engine: 'emu' | 'interp'; readonly detail: string };

/** Emulator wall-clock limit for a program the interpreter stopped at its instruction budget. */
const LOOPING_TIMEOUT_MS = 100;

const near = (v: bigint, lo: bigint, hi: bigint): boolean => v >= lo - 0x10000n && v < hi + 0x10000n;
const isEmuAddress = (v: bigint): boolean =>
  near(v, LAYOUT.ctx, LAYOUT.ctx + 0x1000n) || near(v, LAYOUT.stackTop - BigInt(LAYOUT.stackSize), LAYOUT.stackTop);
const isInterpAddress = (v: bigint): boolean =>
  near(v, Layout.CTX_BASE, Layout.CTX_BASE + 0x1000n) || near(v, Layout.STACK_TOP - BigInt(Layout.FRAME_SIZE * Layout.MAX_FRAMES), Layout.STACK_TOP);

const hex = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16)}`;

function fieldsDiffer(a: Outcome, b: Outcome): string[] {
  const out: string[] = [];
  if (a.fault !== b.fault) out.push('fault');
  if (a.fault === null && b.fault === null && a.r0 !== b.r0) out.push('r0');
  if (a.fault !== 'limit' && b.fault !== 'limit') {
    if (a.ctx !== b.ctx) out.push('ctx');
    if (JSON.stringify(a.pages) !== JSON.stringify(b.pages)) out.push('arena');
    if (JSON.stringify(a.allocated) !== JSON.stringify(b.allocated)) out.push('allocated');
  }
  return out;
}

function firstByteDiff(a: string, b: string): number {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return i >> 1;
}

function describe(emu: Outcome, ref: Outcome, fields: readonly string[]): string {
  const parts: string[] = [];
  for (const f of fields) {
    if (f === 'fault') parts.push(`fault: emulator ${emu.fault ?? 'none'}${emu.faultMessage ? ` (${emu.faultMessage})` : ''}, interpreter ${ref.fault ?? 'none'}${ref.faultMessage ? ` (${ref.faultMessage})` : ''}`);
    if (f === 'r0') parts.push(`r0: emulator ${hex(emu.r0)}, interpreter ${hex(ref.r0)}`);
    if (f === 'ctx') parts.push(`ctx: first difference at byte ${firstByteDiff(emu.ctx, ref.ctx)}`);
    if (f === 'arena') {
      const pages = [...new Set([...Object.keys(emu.pages), ...Object.keys(ref.pages)])].filter((p) => emu.pages[p] !== ref.pages[p]);
      parts.push(`arena pages differ: ${pages.join(', ')}`);
    }
    if (f === 'allocated') parts.push(`allocated pages: emulator [${emu.allocated.join(',')}], interpreter [${ref.allocated.join(',')}]`);
  }
  return parts.join('; ');
}

/** Runs both engines on one case and compares r0, ctx, arena pages and fault class. */
export function check(emu: EmuPath, prog: Program, env: RunEnv, limits: RunLimits = FUZZ_LIMITS): Verdict {
  let ref: Outcome & { insns: number };
  try {
    ref = runInterp(prog, env, limits);
  } catch (e) {
    if (e instanceof BpfError) return { kind: 'refused', message: e.message };
    return { kind: 'crashed', engine: 'interp', detail: (e as Error).stack ?? String(e) };
  }
  let got: Outcome;
  try {
    // A program that used up the interpreter's budget is looping; the emulator needs only long enough to show it
    // does not finish either (2 M BPF instructions take it milliseconds), not its full wall-clock limit.
    const emuLimits = ref.fault === 'limit' ? { ...limits, timeoutMs: Math.min(limits.timeoutMs, LOOPING_TIMEOUT_MS) } : limits;
    got = emu.run(prog, env, emuLimits);
  } catch (e) {
    if (e instanceof BpfError) return { kind: 'refused', message: e.message };
    return { kind: 'crashed', engine: 'emu', detail: (e as Error).stack ?? String(e) };
  }
  const fields = fieldsDiffer(got, ref);
  if (fields.length === 0) return { kind: 'same', fault: got.fault };
  // The budgets differ in kind (wall-clock vs instruction count): a limit on one side is only a divergence
  // (a hang) when the other side finished well within the interpreter's budget.
  if (ref.fault === 'limit' && got.fault !== 'limit') return { kind: 'inconclusive', detail: `interpreter: ${ref.faultMessage}` };
  if (got.fault === 'limit' && ref.fault !== 'limit' && ref.insns > limits.maxInsns / 20) return { kind: 'inconclusive', detail: `emulator: ${got.faultMessage}` };
  // r0 holding a context or stack address: the two engines place them differently, by design.
  if (fields.length === 1 && fields[0] === 'r0' && isEmuAddress(got.r0) && isInterpAddress(ref.r0)) {
    return { kind: 'explained', reason: 'r0 is a context/stack address, and the address layouts of the engines differ', fields };
  }
  return { kind: 'diverged', fields, detail: describe(got, ref, fields) };
}

/** What a reduction must preserve: the same verdict kind and the same differing fields (or crash engine). */
function signature(v: Verdict): string {
  // The detail without numbers: a reduction must keep the same kind of difference, not just the same fields
  // (deleting instructions otherwise drifts into programs the verifier would refuse, e.g. uninitialised registers).
  if (v.kind === 'diverged') return `diverged ${v.fields.join(',')} ${v.detail.replace(/0x[0-9a-f]+|\d+/gi, 'N')}`;
  if (v.kind === 'crashed') return `crashed ${v.engine} ${v.detail.split('\n')[0]}`;
  if (v.kind === 'explained') return `explained ${v.fields.join(',')}`;
  if (v.kind === 'inconclusive') return 'inconclusive';
  return v.kind;
}

export interface Minimised {
  readonly prog: Program;
  readonly env: RunEnv;
  readonly verdict: Verdict;
  readonly checks: number;
}

/** ddmin over the instruction list, then environment simplification; bounded by `maxChecks`. */
export function minimise(emu: EmuPath, prog: Program, env: RunEnv, maxChecks = 3000): Minimised {
  const want = signature(check(emu, prog, env));
  let checks = 1;
  const still = (p: Program, e: RunEnv): boolean => {
    checks++;
    return signature(check(emu, p, e)) === want;
  };
  let cur = prog;
  let chunk = Math.max(1, cur.insns.length >> 1);
  while (chunk >= 1 && checks < maxChecks) {
    let removed = false;
    for (let i = 0; i < cur.insns.length && checks < maxChecks; ) {
      const e = new EditList(cur);
      e.delete(i, Math.min(chunk, cur.insns.length - i));
      const cand = e.toProgram();
      if (cand.insns.length > 0 && still(cand, env)) {
        cur = cand;
        removed = true;
      } else i += chunk;
    }
    if (!removed) chunk >>= 1;
  }
  let env2 = env;
  const simpler: ((e: RunEnv) => RunEnv | null)[] = [
    (e) => (Object.keys(e.prefault).length ? { ...e, prefault: {} } : null),
    (e) => (/[^0]/.test(e.ctx) ? { ...e, ctx: '00'.repeat(e.ctx.length / 2) } : null),
    (e) => (e.arena ? { ...e, arena: null, prefault: {} } : null),
  ];
  for (const f of simpler) {
    const cand = f(env2);
    if (cand && checks < maxChecks && still(cur, cand)) env2 = cand;
  }
  // Single prefault pages that are not needed.
  for (const pg of Object.keys(env2.prefault)) {
    const rest = { ...env2.prefault };
    delete rest[pg];
    if (checks < maxChecks && still(cur, { ...env2, prefault: rest })) env2 = { ...env2, prefault: rest };
  }
  return { prog: cur, env: env2, verdict: check(emu, cur, env2), checks };
}
