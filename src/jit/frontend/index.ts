// src/jit/frontend — the verifier's rewrites that turn an original program into what the kernel's JIT
// consumes (Linux 6.18, x86-64): dead-code clean-up, PROBE_* arena accesses, div/mod checks, may_goto,
// inlined helpers, resolved call immediates and ld_imm64 addresses; plus functions and stack depths.

import { insnError } from '../../errors.js';
import { AluOp, Class, LD_IMM64, PseudoLd, Src, insnClass, insnOp, insnSrc } from '../../isa/opcodes.js';
import type { Dialect, Program } from '../../isa/insn.js';
import { assertValid } from '../../isa/validate.js';
import { analyze } from './analysis.js';
import { hardWireDeadBranches, removeDeadCode, removeNops } from './deadcode.js';
import { insertCmpxchgZext, markArenaAccesses, miscFixups } from './fixups.js';
import { inlineBpfLoops } from './loops.js';
import { SlotProgram } from './slots.js';
import { checkCombinedStack } from './stack.js';
import { findSubprogs } from './subprogs.js';
import type { FrontEndEnv, FrontEndResult, FunctionRange } from './types.js';

export type { CallTarget, FrontEndEnv, FrontEndResult, FunctionRange } from './types.js';

function resolveLdImm64(p: SlotProgram, env: FrontEndEnv): void {
  for (let pc = 0; pc < p.length; pc++) {
    const s = p.slots[pc]!;
    if (s.code !== LD_IMM64) continue;
    const hi = p.slots[pc + 1]!;
    const idx = s.imm;
    let value: bigint;
    switch (s.src) {
      case PseudoLd.NONE:
      case PseudoLd.FUNC:
        pc++;
        continue;
      case PseudoLd.MAP_FD:
      case PseudoLd.MAP_IDX:
        if (idx === 0 && env.arena) value = env.arena.mapPtr;
        else if (env.resolveMap) value = env.resolveMap(idx, { kind: 'map' });
        else throw insnError(pc, `ld_imm64 refers to map ${idx}, which the environment does not provide`);
        break;
      case PseudoLd.MAP_VALUE:
      case PseudoLd.MAP_IDX_VALUE: {
        const off = hi.imm >>> 0;
        if (idx === 0 && env.arena) value = env.arena.userVmStart + BigInt(off);
        else if (env.resolveMap) value = env.resolveMap(idx, { kind: 'value', off });
        else throw insnError(pc, `ld_imm64 refers to a value of map ${idx}, which the environment does not provide`);
        break;
      }
      default:
        throw insnError(pc, `ld_imm64 with src_reg ${s.src} is not supported`);
    }
    s.src = 0;
    s.imm = Number(BigInt.asIntN(32, value));
    hi.imm = Number(BigInt.asIntN(32, value >> 32n));
    pc++;
  }
}

function ranges(starts: readonly number[]): FunctionRange[] {
  const out: FunctionRange[] = [];
  for (let f = 0; f + 1 < starts.length; f++) out.push({ firstPc: starts[f]!, endPc: starts[f + 1]! });
  return out;
}

/** The arena kfuncs (bpf_arena_alloc_pages, _free_pages, _reserve_pages): their pointer arguments are `__ign`. */
function arenaKfuncImms(kfuncs: Readonly<Record<string, string>> | undefined): Set<number> {
  const out = new Set<number>();
  for (const [key, name] of Object.entries(kfuncs ?? {})) {
    if (name.startsWith('bpf_arena_') && /^(0x[0-9a-f]+|-?\d+)$/i.test(key)) out.add(Number(BigInt.asIntN(32, BigInt(key))));
  }
  return out;
}

/** The verifier refuses a division or modulo by the constant 0 (check_alu_op: "div by zero"). */
function refuseDivByZeroImm(prog: Program): void {
  for (const insn of prog.insns) {
    const cls = insnClass(insn.code);
    const op = insnOp(insn.code);
    if ((cls === Class.ALU || cls === Class.ALU64) && (op === AluOp.DIV || op === AluOp.MOD) && insnSrc(insn.code) === Src.K && insn.imm === 0) {
      throw insnError(insn.pc, 'div by zero');
    }
  }
}

/** Rewrites an original program into the kernel-xlated program the x86-64 JIT consumes. */
export function frontEnd(prog: Program, env: FrontEndEnv): FrontEndResult {
  assertValid(prog, 'standard');
  refuseDivByZeroImm(prog);
  const p = SlotProgram.fromProgram(prog);
  p.starts = findSubprogs(p.slots);
  const notes: string[] = [];
  const facts = analyze(p.slots, p.starts, {
    hasArena: !!env.arena,
    decide: !env.visited,
    xlated: false,
    uncheckedArgKfuncs: arenaKfuncImms(env.kfuncs),
    // With the verifier's visited set nothing is left to decide: keep fewer states per instruction.
    ...(env.visited ? { visited: env.visited, pathStates: 2 } : {}),
  });
  for (let pc = 0; pc < p.length; pc++) {
    const a = p.aux[pc]!;
    a.seen = facts.visited[pc] === 1;
    a.arena = facts.arena[pc] === 1;
    a.needsZext = facts.needsZext[pc] === 1;
    a.zext = facts.zext[pc] === 1;
  }
  // Before the rewrites that add stack slots (may_goto, bpf_loop), as the verifier checks it.
  checkCombinedStack(p.slots, p.starts, facts.depth);
  p.depth = facts.depth.slice();
  inlineBpfLoops(p, facts.loops);
  resolveLdImm64(p, env);
  hardWireDeadBranches(p);
  removeDeadCode(p);
  removeNops(p);
  markArenaAccesses(p);
  miscFixups(p, env, notes);
  insertCmpxchgZext(p);
  if (!env.visited) notes.push("dead code decided by the front end's constant and range tracking; the verifier (tnums, 32-bit sub-ranges) may remove more");
  return {
    prog: p.toProgram(),
    stackDepth: p.depth.slice(),
    functions: ranges(p.starts),
    origPc: Int32Array.from(p.aux.map((a) => a.orig)),
    notes,
  };
}

/** Function boundaries (main program first) of an original or xlated program. */
export function functionRanges(prog: Program): FunctionRange[] {
  return ranges(findSubprogs(SlotProgram.fromProgram(prog).slots));
}

/**
 * The verifier's stack depth of each function: the deepest stack byte the function's reachable code touches
 * (-(frame offset) of r10-based accesses, also through copies of r10 with constant offsets, and of stack
 * buffers passed to helpers/kfuncs; accesses into a caller's frame count for the caller). Unrounded: the JIT
 * reserves round_up(depth, 8). For an xlated program the may_goto counter slots are ordinary accesses, so the
 * same rule gives the depth including the verifier's extra slots; for an original program, dead code (by
 * constant tracking, or the `visited` set) does not count.
 */
export function stackDepths(prog: Program, opts: { dialect?: Dialect; hasArena?: boolean; visited?: ReadonlySet<number> } = {}): number[] {
  const p = SlotProgram.fromProgram(prog);
  const starts = findSubprogs(p.slots);
  const xlated = opts.dialect === 'kernel-xlated';
  const facts = analyze(p.slots, starts, {
    hasArena: opts.hasArena ?? true,
    decide: !xlated && !opts.visited,
    xlated,
    // Nothing is decided on an xlated program: a plain join finds the same accesses, faster.
    ...(xlated ? { pathStates: 1 } : {}),
    ...(opts.visited ? { visited: opts.visited } : {}),
  });
  return facts.depth;
}
