// src/jit/frontend — the verifier's facts the rewrites depend on, by abstract interpretation over each
// function's CFG (joined at merges, analysed per distinct call context): which instructions are reached,
// which memory accesses go through arena pointers, which ALU64 ops act on arena pointers, and each
// function's stack depth (deepest stack byte touched, like update_stack_depth()).

import { insnError } from '../../errors.js';
import { AluOp, AtomicOp, Class, JmpOp, LD_IMM64, Mode, PseudoCall, PseudoLd, Size } from '../../isa/opcodes.js';
import { aluStep } from './alu.js';
import { decideJump, imm64u } from './consts.js';
import type { Slot } from './slots.js';
import { jumpOff } from './subprogs.js';
import { boundsOf, describe, joinVal, konst, ranged, UNINIT, UNKNOWN, valKey, type Val } from './values.js';
import { fromUpKey, HELPER_MEM_ARGS, joinState, MAX_BPF_STACK, stateEq, upKey, widenState, type State } from './state.js';

export { MAX_BPF_STACK } from './state.js';
import { const32, decideBounds, low32, refineBounds, refinePair, sextBounds, zextBounds } from './ranges.js';

export interface AnalysisOptions {
  /** The program has an arena (addr_space_cast is allowed; map 0 is the arena). */
  readonly hasArena: boolean;
  /** Follow only edges into these slots (the verifier's visited set). */
  readonly visited?: ReadonlySet<number>;
  /** Decide conditional jumps whose operands are known constants. */
  readonly decide: boolean;
  /** The input is already kernel-xlated (r1-r5 are not clobbered by calls: internal calls preserve them). */
  readonly xlated: boolean;
  /** Distinct states kept per instruction before joining (default 8; 1 = a plain dataflow join). */
  readonly pathStates?: number;
  /**
   * kfunc call imms whose pointer arguments the verifier does not check (the arena kfuncs' `__ign` and `__map`
   * arguments): a stack pointer passed there is no stack access.
   */
  readonly uncheckedArgKfuncs?: ReadonlySet<number>;
  /** Instruction visits allowed in total (default MAX_STEPS; tests lower it). */
  readonly maxSteps?: number;
}

export interface Analysis {
  readonly visited: Uint8Array;
  readonly arena: Uint8Array;
  readonly needsZext: Uint8Array;
  /** 32-bit cmpxchg whose r0 is later read as 64 bits (the verifier's zext_dst). */
  readonly zext: Uint8Array;
  /**
   * bpf_loop calls (slot → callback's function index, or null when the verifier would not inline it: the
   * callback differs between visits or the flags argument is not a known 0).
   */
  readonly loops: Map<number, number | null>;
  /** Stack depth per function (index into `starts`). */
  readonly depth: number[];
}

const MAX_CALL_FRAMES = 8;
const BPF_FUNC_LOOP = 181;
const PATH_STATES = 8;
/** Instructions the analysis may process in total (the verifier's own limit is 1M). */
const MAX_STEPS = 2_000_000;
const SIZE_OF: Record<number, number> = { [Size.B]: 1, [Size.H]: 2, [Size.W]: 4, [Size.DW]: 8 };

/** The compare with operands swapped (k < r ⇔ r > k). */
const FLIP: Record<number, number> = {
  [JmpOp.JGT]: JmpOp.JLT, [JmpOp.JLT]: JmpOp.JGT, [JmpOp.JGE]: JmpOp.JLE, [JmpOp.JLE]: JmpOp.JGE,
  [JmpOp.JSGT]: JmpOp.JSLT, [JmpOp.JSLT]: JmpOp.JSGT, [JmpOp.JSGE]: JmpOp.JSLE, [JmpOp.JSLE]: JmpOp.JSGE,
};

/**
 * A 32-bit compare with the constant k32 as a 64-bit one, when the register is known to lie where both agree
 * (unsigned: below 2^32; signed: below 2^31); undefined otherwise.
 */
function compare32As64(op: number, b: { uhi: bigint }, k: bigint): bigint | undefined {
  const k32 = k & 0xffffffffn;
  const signed = op === JmpOp.JSGT || op === JmpOp.JSGE || op === JmpOp.JSLT || op === JmpOp.JSLE;
  if (!signed) return b.uhi <= 0xffffffffn && op !== JmpOp.JSET ? k32 : undefined;
  return b.uhi <= 0x7fffffffn ? BigInt.asUintN(64, BigInt.asIntN(32, k32)) : undefined;
}

export function analyze(slots: readonly Slot[], starts: readonly number[], opts: AnalysisOptions): Analysis {
  const n = slots.length;
  const res: Analysis = {
    visited: new Uint8Array(n),
    arena: new Uint8Array(n),
    needsZext: new Uint8Array(n),
    zext: new Uint8Array(n),
    loops: new Map(),
    depth: new Array<number>(starts.length - 1).fill(0),
  };
  // What each memory access's base register was: 1 arena, 2 other pointer; with the first one seen.
  const baseKind = new Uint8Array(n);
  const baseSeen: (Val | undefined)[] = new Array(n);
  const memo = new Map<string, { ret: Val; up: ReadonlyMap<number, Val>; partial: ReadonlySet<number> }>();
  let steps = 0;
  const pathStates = opts.pathStates ?? PATH_STATES;
  const maxSteps = opts.maxSteps ?? MAX_STEPS;

  /** The function a pseudo-func ld_imm64 value points to. */
  const callbackOf = (v: Val): number | undefined => {
    if (v.k !== 'ptr' || v.pc < 0) return undefined;
    const ld = slots[v.pc]!;
    return ld.code === LD_IMM64 && ld.src === PseudoLd.FUNC ? fnOf(v.pc + ld.imm + 1) : undefined;
  };
  const fnOf = (pc: number): number => {
    let f = 0;
    while (f + 1 < starts.length - 1 && starts[f + 1]! <= pc) f++;
    return f;
  };
  const follow = (t: number): boolean => !opts.visited || opts.visited.has(t);
  // grow_stack_state(): the depth is always a multiple of 8.
  const deepen = (fn: number, byteOff: number): void => {
    const d = Math.ceil(-byteOff / 8) * 8;
    if (d > res.depth[fn]!) res.depth[fn] = d;
  };

  /**
   * A stack access must stay inside the 512-byte frame (check_stack_access_within_bounds: the verifier's
   * message). An xlated program is not checked: the verifier's extra slots (may_goto, bpf_loop) lie below.
   */
  const checkStack = (pc: number, reg: number, off: number, size: number, what: string): void => {
    if (opts.xlated || (off >= -MAX_BPF_STACK && off + size <= 0)) return;
    throw insnError(pc, `invalid ${what} stack R${reg} off=${off} size=${size} (the stack is ${MAX_BPF_STACK} bytes below r10)`);
  };

  /** Records the base of a memory access; refuses arena/non-arena mixes like save_aux_ptr_type(). */
  const access = (pc: number, reg: number, base: Val, off: number, chain: readonly number[], size: number, write: boolean): void => {
    if (base.k === 'mixed') {
      const other = base.otherPc >= 0 ? `${base.other} (made at insn ${base.otherPc})` : base.other;
      throw insnError(pc, `same insn cannot be used with different pointers: R${reg} is an arena pointer (made at insn ${base.arenaPc}) on one path and a ${other} on another`);
    }
    let kind = 0;
    if (base.k === 'arena') {
      kind = 1;
    } else if (base.k === 'stack') {
      kind = 2;
      if (base.off !== undefined) {
        checkStack(pc, reg, base.off + off, size, write ? 'write to' : 'read from');
        deepen(chain[base.frame]!, base.off + off);
      }
    } else if (base.k === 'ptr') {
      kind = 2;
    }
    if (kind === 0) return;
    const prev = baseSeen[pc];
    if (baseKind[pc] !== 0 && baseKind[pc] !== kind && prev) {
      const [a, o] = kind === 1 ? [describe(base), describe(prev)] : [describe(prev), describe(base)];
      const at = (d: { pc: number }): string => (d.pc >= 0 ? ` (made at insn ${d.pc})` : '');
      throw insnError(pc, `same insn cannot be used with different pointers: R${reg} is an arena pointer${at(a)} on one path and a ${o.what}${at(o)} on another`);
    }
    if (baseKind[pc] === 0) {
      baseKind[pc] = kind;
      baseSeen[pc] = base;
    }
    if (kind === 1) res.arena[pc] = 1;
  };

  /**
   * What a call left: r0, and the spills into its callers' frames (joined over its exit paths; `partial`: the
   * slots some exit path left alone, which keep their old value there).
   */
  interface CallResult {
    readonly ret: Val;
    readonly up: ReadonlyMap<number, Val>;
    readonly partial: ReadonlySet<number>;
  }

  const read64 = (v: Val): void => {
    if (v.k === 'scalar' && v.z) for (const d of v.z) res.zext[d] = 1;
  };

  const runFunction = (fn: number, chain: readonly number[], entry: readonly Val[]): CallResult => {
    const key = `${chain.join(',')}|${entry.slice(1, 6).map(valKey).join(',')}`;
    const known = memo.get(key);
    if (known) return known;
    const frame = chain.length - 1;
    const lo = starts[fn]!;
    const hi = starts[fn + 1]!;
    // Path-sensitive up to PATH_STATES distinct states per instruction (like the verifier's exploration),
    // then one widened (joined) state, so loops and branchy code still terminate.
    const sets: { exact: State[]; widened?: State }[] = [];
    for (let k = 0; k < hi - lo; k++) sets.push({ exact: [] });
    const regs0 = entry.slice();
    regs0[10] = { k: 'stack', frame, off: 0 };
    const first: State = { regs: regs0, stack: new Map() };
    sets[0]!.exact.push(first);
    const work: { pc: number; st: State }[] = [{ pc: lo, st: first }];
    let ret: Val = UNINIT;
    let exitUp: Map<number, Val> | undefined;
    const partial = new Set<number>();

    const flow = (to: number, st: State): void => {
      if (!follow(to)) return;
      const set = sets[to - lo]!;
      if (set.exact.some((e) => stateEq(e, st))) return;
      if (set.exact.length < pathStates) {
        set.exact.push(st);
        work.push({ pc: to, st });
        return;
      }
      const w = set.widened ? widenState(set.widened, joinState(set.widened, st)) : st;
      if (set.widened && stateEq(set.widened, w)) return;
      set.widened = w;
      work.push({ pc: to, st: w });
    };

    while (work.length > 0) {
      const { pc, st } = work.pop()!;
      if (++steps > maxSteps) throw insnError(pc, `the program is too complex to analyse (more than ${maxSteps} instruction visits)`);
      const regs = st.regs.slice();
      const stack = new Map(st.stack);
      const s = slots[pc]!;
      const cls = s.code & 7;
      res.visited[pc] = 1;

      const stackWrite = (base: Val, off: number, size: number, value: Val | undefined): void => {
        if (base.k === 'stack' && base.frame < frame) {
          // A spill into a caller's frame (the verifier keeps it there too).
          const f = base.frame;
          if (base.off === undefined) {
            for (const k of [...stack.keys()]) if (fromUpKey(k)?.frame === f) stack.delete(k);
            return;
          }
          const a = base.off + off;
          if (size === 8 && a % 8 === 0 && value) {
            stack.set(upKey(f, a), value);
            return;
          }
          for (let k = Math.floor(a / 8) * 8; k < a + size; k += 8) stack.delete(upKey(f, k));
          return;
        }
        if (base.k !== 'stack' || base.frame !== frame) return;
        if (base.off === undefined) {
          stack.clear();
          return;
        }
        const a = base.off + off;
        if (size === 8 && a % 8 === 0 && value) {
          stack.set(a, value);
          return;
        }
        for (let k = Math.floor(a / 8) * 8; k < a + size; k += 8) stack.delete(k);
      };

      if (s.code === LD_IMM64) {
        res.visited[pc + 1] = 1;
        const hiImm = slots[pc + 1]?.imm ?? 0;
        let v: Val;
        if (s.src === PseudoLd.NONE) v = konst((BigInt(hiImm >>> 0) << 32n) | BigInt(s.imm >>> 0));
        else if ((s.src === PseudoLd.MAP_VALUE || s.src === PseudoLd.MAP_IDX_VALUE) && s.imm === 0 && opts.hasArena) v = UNKNOWN;
        else v = { k: 'ptr', pc };
        regs[s.dst] = v;
        flow(pc + 2, { regs, stack });
        continue;
      }

      if (cls === Class.LD) {
        regs[0] = UNKNOWN; // legacy packet access
        flow(pc + 1, { regs, stack });
        continue;
      }

      if (cls === Class.LDX) {
        const base = regs[s.src]!;
        access(pc, s.src, base, s.off, chain, SIZE_OF[s.code & 0x18]!, false);
        const bits = 8 * SIZE_OF[s.code & 0x18]!;
        const sx = (s.code & 0xe0) === Mode.MEMSX || (s.code & 0xe0) === Mode.PROBE_MEM32SX;
        let v: Val = bits === 64 ? UNKNOWN : ranged(sx ? sextBounds(bits) : zextBounds(bits));
        if (s.code === (Class.LDX | Mode.MEM | Size.DW) && base.k === 'stack' && base.frame <= frame && base.off !== undefined) {
          const a = base.off + s.off;
          v = stack.get(base.frame === frame ? a : upKey(base.frame, a)) ?? UNKNOWN;
        }
        regs[s.dst] = v;
        flow(pc + 1, { regs, stack });
        continue;
      }

      if (cls === Class.ST || cls === Class.STX) {
        const mode = s.code & 0xe0;
        const size = SIZE_OF[s.code & 0x18]!;
        const isAtomic = cls === Class.STX && (mode === Mode.ATOMIC || mode === Mode.PROBE_ATOMIC);
        if (isAtomic && s.imm === AtomicOp.LOAD_ACQ) {
          access(pc, s.src, regs[s.src]!, s.off, chain, size, false);
          regs[s.dst] = size === 8 ? UNKNOWN : ranged(zextBounds(8 * size));
        } else {
          const base = regs[s.dst]!;
          // An atomic read-modify-write is checked as a read first (check_atomic_rmw).
          access(pc, s.dst, base, s.off, chain, size, !isAtomic || s.imm === AtomicOp.STORE_REL);
          if (isAtomic) {
            if (size === 8) {
              read64(regs[s.src]!);
              if (s.imm === AtomicOp.CMPXCHG) read64(regs[0]!);
            }
            const fetchLogic = s.imm === (AtomicOp.AND | AtomicOp.FETCH) || s.imm === (AtomicOp.OR | AtomicOp.FETCH) || s.imm === (AtomicOp.XOR | AtomicOp.FETCH);
            if (base.k === 'arena' && fetchLogic && size >= 4) throw insnError(pc, `BPF_ATOMIC stores into R${s.dst} arena is not allowed`);
            // A 64-bit fetch from a spilled slot returns what was spilled (the verifier reads the stack too).
            const spilled = size === 8 && base.k === 'stack' && base.frame === frame && base.off !== undefined ? stack.get(base.off + s.off) : undefined;
            const fetched = spilled && spilled.k === 'scalar' ? spilled : size === 8 ? UNKNOWN : ranged(zextBounds(8 * size));
            stackWrite(base, s.off, size, undefined);
            if (s.imm === AtomicOp.CMPXCHG) regs[0] = size === 4 ? ranged(zextBounds(32), [pc]) : fetched;
            else if (s.imm & AtomicOp.FETCH) regs[s.src] = fetched;
          } else {
            const value = cls === Class.ST ? konst(imm64u(s.imm)) : regs[s.src]!;
            if (cls === Class.STX && size === 8) read64(value);
            stackWrite(base, s.off, size, value);
          }
        }
        flow(pc + 1, { regs, stack });
        continue;
      }

      if (cls === Class.ALU || cls === Class.ALU64) {
        const is64 = cls === Class.ALU64;
        const aop = s.code & 0xf0;
        if (is64 && (s.code & 0x08)) read64(regs[s.src]!);
        if (is64 ? aop !== AluOp.MOV && !(aop === AluOp.END && s.imm !== 64) : aop === AluOp.END && s.imm === 64) read64(regs[s.dst]!);
        aluStep(pc, s, is64, regs, opts, res);
        flow(pc + 1, { regs, stack });
        continue;
      }

      // JMP / JMP32
      const op = s.code & 0xf0;
      if (op === JmpOp.EXIT && cls === Class.JMP) {
        if (frame > 0) {
          ret = joinVal(ret, regs[0]!);
          // Spills into callers' frames, joined over the exit paths (the verifier sees each path's).
          const first = !exitUp;
          exitUp ??= new Map();
          for (const [k, v] of stack) {
            if (fromUpKey(k) === null) continue;
            if (!first && !exitUp.has(k)) partial.add(k);
            exitUp.set(k, exitUp.has(k) ? joinVal(exitUp.get(k)!, v) : v);
          }
          for (const k of exitUp.keys()) if (!stack.has(k)) partial.add(k);
        } else {
          read64(regs[0]!);
        }
        continue;
      }
      if (op === JmpOp.CALL && cls === Class.JMP) {
        let calleeUp: CallResult | undefined;
        const before = new Map(stack);
        if (s.src === PseudoCall.CALL) {
          const target = pc + s.imm + 1;
          const callee = fnOf(target);
          if (chain.includes(callee)) throw insnError(pc, `recursive call from insn ${pc} to function at insn ${target}`);
          if (chain.length >= MAX_CALL_FRAMES) throw insnError(pc, `the call stack of ${chain.length + 1} frames is too deep`);
          const args: Val[] = new Array(12).fill(UNINIT);
          for (let r = 1; r <= 5; r++) args[r] = regs[r]!;
          const res = runFunction(callee, [...chain, callee], args);
          calleeUp = res;
          regs[0] = res.ret.k === 'uninit' ? UNKNOWN : res.ret;
        } else {
          // Helpers and kfuncs read stack buffers passed to them: that memory counts as used stack.
          const unchecked = s.src === PseudoCall.KFUNC && opts.uncheckedArgKfuncs?.has(s.imm) === true;
          for (let r = 1; r <= 5 && !unchecked; r++) {
            const v = regs[r]!;
            if (v.k !== 'stack' || v.off === undefined) continue;
            if (!opts.xlated && v.off < -MAX_BPF_STACK) {
              // The verifier checks the bounds of memory arguments only (bpf_loop's context pointer, say, is not).
              if (s.src === PseudoCall.HELPER && HELPER_MEM_ARGS[s.imm]?.includes(r)) {
                throw insnError(pc, `invalid indirect access to stack R${r} off=${v.off} (the stack is ${MAX_BPF_STACK} bytes below r10)`);
              }
              continue; // not a stack access: no depth either
            }
            deepen(chain[v.frame]!, v.off);
          }
          // Callbacks (ld_imm64 src 4 passed to a helper) run as functions of their own.
          for (let r = 1; r <= 5; r++) {
            const cb = callbackOf(regs[r]!);
            if (cb === undefined || chain.includes(cb)) continue;
            if (chain.length >= MAX_CALL_FRAMES) throw insnError(pc, `the call stack of ${chain.length + 1} frames is too deep`);
            const args: Val[] = new Array(12).fill(UNINIT);
            for (let a = 1; a <= 5; a++) args[a] = UNKNOWN;
            if (s.imm === BPF_FUNC_LOOP && r === 2) args[2] = regs[3]!;
            runFunction(cb, [...chain, cb], args);
          }
          if (s.imm === BPF_FUNC_LOOP && s.src === PseudoCall.HELPER) {
            const cb = callbackOf(regs[2]!);
            const flags = regs[4]!;
            const fit = cb !== undefined && flags.k === 'scalar' && flags.c === 0n;
            const prev = res.loops.get(pc);
            res.loops.set(pc, !fit || (prev !== undefined && prev !== cb) ? null : cb);
          }
          regs[0] = UNKNOWN;
        }
        // The callee may write a stack buffer it was given: spills from there up are no longer known.
        for (let r = 1; r <= 5; r++) {
          const v = regs[r]!;
          if (v.k !== 'stack' || v.frame > frame) continue;
          for (const k of [...stack.keys()]) {
            const up = fromUpKey(k);
            const f = up ? up.frame : frame;
            if (f === v.frame && (v.off === undefined || (up ? up.off : k) + 8 > v.off)) stack.delete(k);
          }
        }
        // What the callee spilled into this frame or further up; a slot some path left alone may still hold
        // its old value (unknown when the call could have clobbered it).
        for (const [k, v] of calleeUp?.up ?? []) {
          const up = fromUpKey(k)!;
          const at = up.frame === frame ? up.off : k;
          stack.set(at, calleeUp!.partial.has(k) ? joinVal(before.get(at) ?? UNKNOWN, v) : v);
        }
        if (!opts.xlated) for (let r = 1; r <= 5; r++) regs[r] = UNINIT;
        flow(pc + 1, { regs, stack });
        continue;
      }
      const target = pc + jumpOff(s) + 1;
      if (op === JmpOp.JA) {
        flow(target, { regs, stack });
        continue;
      }
      if (op === JmpOp.JCOND) {
        flow(pc + 1, { regs, stack });
        flow(target, { regs, stack });
        continue;
      }
      const is32 = cls === Class.JMP32;
      const isX = (s.code & 0x08) !== 0;
      const a = regs[s.dst]!;
      if (!is32) {
        read64(a);
        if (isX) read64(regs[s.src]!);
      }
      const b: Val = isX ? regs[s.src]! : konst(is32 ? BigInt(s.imm >>> 0) : imm64u(s.imm));
      let taken: boolean | undefined;
      if (opts.decide && a.k === 'scalar' && b.k === 'scalar') {
        if (a.c !== undefined && b.c !== undefined) taken = decideJump(op, is32, a.c, b.c);
        else if (!is32) taken = decideBounds(op, boundsOf(a), boundsOf(b));
        else {
          const la = a.c !== undefined ? const32(a.c) : low32(boundsOf(a));
          const lb = b.c !== undefined ? const32(b.c) : low32(boundsOf(b));
          if (la && lb) taken = decideBounds(op, la, lb);
        }
      }
      // On each side, a compare with a constant narrows the other register (reg_set_min_max).
      const side = (t: boolean): Val[] | null => {
        const rs = regs.slice();
        const narrow = (reg: number, v: Val, o: number, k: bigint): boolean => {
          if (v.k !== 'scalar' || v.c !== undefined) return true;
          let kk: bigint | undefined = k;
          if (is32) kk = compare32As64(o, boundsOf(v), k);
          if (kk === undefined) return true;
          const nb = refineBounds(o, t, boundsOf(v), kk);
          if (!nb) return false;
          rs[reg] = ranged(nb, v.z);
          return true;
        };
        if (a.k === 'scalar' && b.k === 'scalar') {
          if (!is32 && isX && a.c === undefined && b.c === undefined) {
            const pair = refinePair(op, t, boundsOf(a), boundsOf(b));
            if (!pair) return null;
            rs[s.dst] = ranged(pair[0], a.z);
            rs[s.src] = ranged(pair[1], b.z);
            if (s.dst === s.src) rs[s.dst] = a; // a register compared with itself learns nothing
            return rs;
          }
          if (b.c !== undefined && !narrow(s.dst, a, op, b.c)) return null;
          if (isX && a.c !== undefined && !narrow(s.src, b, FLIP[op] ?? op, a.c)) return null;
        }
        return rs;
      };
      if (taken !== true) {
        const fr = side(false);
        if (fr) flow(pc + 1, { regs: fr, stack });
      }
      if (taken !== false) {
        const tr = side(true);
        if (tr) flow(target, { regs: tr, stack });
      }
    }
    const result = { ret, up: exitUp ?? new Map<number, Val>(), partial };
    memo.set(key, result);
    return result;
  };

  const entry: Val[] = new Array(12).fill(UNINIT);
  entry[1] = { k: 'ptr', pc: -1 }; // the context
  runFunction(0, [0], entry);
  return res;
}
