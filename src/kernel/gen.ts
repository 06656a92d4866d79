// src/kernel — the random program generator behind `bpfjit corpus build`: verifier-friendly syscall
// programs in the corpus convention (map 0 = the arena, kfunc calls by sidecar key), deterministic in the seed.
// Shape (as the shared corpus): r9 = ctx; zero a 64-byte stack; r0-r8 = constants; a body of units (ALU,
// ctx/stack/arena memory, atomics, forward jumps, arena blocks, kfunc calls, bpf-to-bpf calls) where every
// unit leaves r0-r8 initialised scalars, so any forward jump between units is valid; then r0-r8 → ctx; exit.
import type { RunEnv } from '../env.js';
import type { Insn, Program } from '../isa/insn.js';
import { AluOp, AtomicOp, Class, JmpOp, LD_IMM64, Mode, Size, Src } from '../isa/opcodes.js';
import { Rng } from './rng.js';

export { Rng };

type Raw = Omit<Insn, 'pc'>;
/** A unit: instructions, or a forward jump to a later unit, resolved once the body is laid out. */
type Unit = { insns: Raw[] } | { jump: 'ja' } | { jump: 'gotol' } | { jump: 'cond'; op: number; is32: boolean; reg: boolean };

export const KFUNC_KEYS = { alloc: 0x101, free: 0x102 } as const;
export const GEN_KFUNCS: Readonly<Record<string, string>> = { '0x101': 'bpf_arena_alloc_pages', '0x102': 'bpf_arena_free_pages' };

const CTX = 9;
const CTX_SIZE = 128;
const STACK = 64;
const SIZES = [Size.B, Size.H, Size.W, Size.DW] as const;
const BYTES: Record<number, number> = { [Size.B]: 1, [Size.H]: 2, [Size.W]: 4, [Size.DW]: 8 };
const INTERESTING = [0n, 1n, 0xffffffffn, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0x80000000n, 0x7fffffffn, 0xfffffffffffffffen, 63n, 64n];

const ins = (code: number, dst = 0, src = 0, off = 0, imm = 0): Raw => ({ code, dst, src, off, imm: imm | 0 });
const ld64 = (dst: number, v: bigint, src = 0): Raw => ({ code: LD_IMM64, dst, src, off: 0, imm: Number(BigInt.asIntN(32, v)), imm2: Number(BigInt.asIntN(32, v >> 32n)) });

export interface GenOptions {
  readonly seed: number;
  readonly index: number;
  /** Retry number (a program the verifier refused is replaced by the next attempt). */
  readonly attempt?: number;
}

export interface Generated {
  readonly prog: Program;
  readonly env: RunEnv;
  readonly bodySize: number;
  readonly subprog: boolean;
  readonly stats: Record<string, number>;
  /** Why the results may differ between runs (empty: deterministic). */
  readonly nondeterministic: readonly string[];
}

/**
 * [name, id, result varies between runs]: helpers a sleepable syscall program may call without arguments.
 * 'cpu': the current CPU, which the oracle pins to CPU 0 (the emulator's) for the run: reproducible.
 */
const HELPERS: readonly (readonly [string, number, boolean | 'cpu'])[] = [
  ['bpf_ktime_get_ns', 5, true],
  ['bpf_get_prandom_u32', 7, true],
  ['bpf_get_smp_processor_id', 8, 'cpu'], // inlined by the verifier (per-CPU read)
  ['bpf_get_numa_node_id', 42, false],
  ['bpf_jiffies64', 118, true], // inlined by the verifier
  ['bpf_ktime_get_boot_ns', 125, true],
];

class Gen {
  readonly stats: Record<string, number> = {};
  readonly nondeterministic: string[] = [];
  /** The main function's registers: initialised first, read and written by every unit, stored at the end. */
  live: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  constructor(
    readonly r: Rng,
    readonly arena: boolean,
    readonly pages: number,
    readonly noUserConv: boolean,
  ) {}
  count(k: string): void {
    this.stats[k] = (this.stats[k] ?? 0) + 1;
  }
  reg(): number {
    return this.r.pick(this.live);
  }
  /** Registers readable inside an arena block (r1-r5 re-initialised after the call; r7 is the pointer). */
  arenaRegs(): number[] {
    return [1, 2, 3, 4, 5, ...this.live.filter((x) => x === 6 || x === 8)];
  }
  value(): bigint {
    return this.r.chance(0.4) ? this.r.pick(INTERESTING) : BigInt.asUintN(64, (BigInt(this.r.u32()) << 32n) | BigInt(this.r.u32()));
  }
  imm(): number {
    return this.r.chance(0.3) ? this.r.int(-8, 8) : this.r.u32() | 0;
  }
  /** Re-initialises registers a call clobbered (and any others listed). */
  reinit(regs: readonly number[]): Raw[] {
    return regs.map((d) => (this.r.chance(0.5) ? ins(Class.ALU64 | AluOp.MOV | Src.K, d, 0, 0, this.imm()) : ld64(d, this.value())));
  }

  alu(): Raw[] {
    const is64 = this.r.chance(0.5);
    const cls = is64 ? Class.ALU64 : Class.ALU;
    const w = is64 ? 'alu64' : 'alu32';
    const dst = this.reg();
    const op = this.r.pick([AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.OR, AluOp.AND, AluOp.LSH, AluOp.RSH, AluOp.NEG, AluOp.MOD, AluOp.XOR, AluOp.MOV, AluOp.ARSH, AluOp.END]);
    if (op === AluOp.NEG) return this.count(`${w}_neg`), [ins(cls | op, dst)];
    if (op === AluOp.END) {
      const imm = this.r.pick([16, 32, 64]);
      if (is64) return this.count('end_bswap'), [ins(Class.ALU64 | AluOp.END, dst, 0, 0, imm)];
      const be = this.r.chance(0.5);
      return this.count(be ? 'end_be' : 'end_le'), [ins(Class.ALU | AluOp.END | (be ? Src.X : Src.K), dst, 0, 0, imm)];
    }
    const name = Object.entries(AluOp).find(([, v]) => v === op)![0].toLowerCase();
    const signed = (op === AluOp.DIV || op === AluOp.MOD) && this.r.chance(0.5);
    const off = signed ? 1 : 0;
    if (op === AluOp.MOV && this.r.chance(0.25)) {
      this.count(is64 ? 'movsx64' : 'movsx32');
      return [ins(cls | op | Src.X, dst, this.reg(), this.r.pick(is64 ? [8, 16, 32] : [8, 16]))];
    }
    this.count(signed ? `${op === AluOp.DIV ? 'sdiv' : 'smod'}${is64 ? 64 : 32}` : `${w}_${name}`);
    if (this.r.chance(0.5)) return [ins(cls | op | Src.X, dst, this.reg(), off)];
    let imm = this.imm();
    if (op === AluOp.LSH || op === AluOp.RSH || op === AluOp.ARSH) imm = this.r.int(0, is64 ? 63 : 31);
    if ((op === AluOp.DIV || op === AluOp.MOD) && imm === 0) imm = this.r.int(1, 300);
    return [ins(cls | op | Src.K, dst, 0, off, imm)];
  }

  /** ctx or stack access; r9 = ctx (128 bytes), r10 = stack (64 bytes, zeroed). */
  mem(): Raw[] {
    const stack = this.r.chance(0.5);
    const size = this.r.pick(SIZES);
    const n = BYTES[size]!;
    const base = stack ? 10 : CTX;
    const off = stack ? -n * this.r.int(1, STACK / n) : n * this.r.int(0, CTX_SIZE / n - 1); // aligned: the verifier insists
    const where = stack ? 'stack' : 'ctx';
    const k = this.r.int(0, stack ? 6 : 3);
    if (k === 6) return this.stackViaReg();
    if (k === 0) return this.count(`${where}_ldx`), [ins(Class.LDX | Mode.MEM | size, this.reg(), base, off)];
    if (k === 1 && size !== Size.DW) return this.count(`${where}_ldsx`), [ins(Class.LDX | Mode.MEMSX | size, this.reg(), base, off)];
    if (k === 2) return this.count(`${where}_st`), [ins(Class.ST | Mode.MEM | size, base, 0, off, this.imm())];
    if (k <= 3) return this.count(`${where}_stx`), [ins(Class.STX | Mode.MEM | size, base, this.reg(), off)];
    // Stack atomics: aligned W/DW; acquire/release any size (aligned).
    const aligned = (m: number) => -m * this.r.int(1, STACK / m);
    if (k === 4) {
      const sz = this.r.pick([Size.W, Size.DW]);
      const op = this.r.pick([AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR, AtomicOp.ADD | AtomicOp.FETCH, AtomicOp.OR | AtomicOp.FETCH, AtomicOp.AND | AtomicOp.FETCH, AtomicOp.XOR | AtomicOp.FETCH, AtomicOp.XCHG, AtomicOp.CMPXCHG]);
      return this.count('stack_atomic'), [ins(Class.STX | Mode.ATOMIC | sz, 10, this.reg(), aligned(BYTES[sz]!), op)];
    }
    this.count('stack_acqrel');
    const sz = this.r.pick(SIZES);
    return this.r.chance(0.5)
      ? [ins(Class.STX | Mode.ATOMIC | sz, this.reg(), 10, aligned(BYTES[sz]!), AtomicOp.LOAD_ACQ)]
      : [ins(Class.STX | Mode.ATOMIC | sz, 10, this.reg(), aligned(BYTES[sz]!), AtomicOp.STORE_REL)];
  }

  /** `if cond goto +N` over an ALU body of some 100-200 bytes: the jump's rel8/rel32 choice changes between passes. */
  bigIf(): Raw[] {
    this.count('bigif');
    const body: Raw[] = [];
    for (let i = this.r.int(18, 45); i > 0; i--) body.push(...this.alu());
    return [ins(Class.JMP | this.r.pick(COND) | Src.K, this.reg(), 0, slots(body), this.imm()), ...body];
  }

  /**
   * A jump ladder: `if rA == K goto` over a body of exactly 117 bytes of x86 (39 three-byte ALU64 ops) and the
   * next jump, which is 6 bytes short (cmp imm8 + jcc rel8) or 10 long: each jump fits the short form (+123)
   * only after the next one shrank, one per layout pass — long ladders need more than 15 passes and get the
   * JIT's nop padding. rA comes from the ctx so the verifier cannot decide the branches.
   */
  ladder(): Raw[] {
    this.count('ladder_jumps');
    const a = this.reg();
    const others = this.live.filter((x) => x !== a);
    const out: Raw[] = [ins(Class.LDX | Mode.MEM | Size.DW, a, CTX, 8 * this.r.int(0, 15))];
    const m = this.r.int(4, 20);
    for (let k = 1; k <= m; k++) {
      const n = k === m ? 41 : 39;
      const body: Raw[] = [];
      for (let i = 0; i < n; i++) body.push(ins(Class.ALU64 | this.r.pick([AluOp.ADD, AluOp.SUB, AluOp.XOR, AluOp.OR]) | Src.X, this.r.pick(others), this.r.pick(others)));
      out.push(ins(Class.JMP | JmpOp.JEQ | Src.K, a, 0, k === m ? n : n + 1, this.r.int(1, 100)), ...body);
    }
    return out;
  }

  /** A second exit in the main function (guarded, so the code after it stays reachable): it jumps to the epilogue. */
  earlyExit(): Raw[] {
    this.count('early_exit');
    return [ins(Class.JMP | this.r.pick(COND) | Src.K, this.reg(), 0, 1, this.imm()), ins(Class.JMP | JmpOp.EXIT)];
  }

  /** rP = r10 - K; loads/stores through rP (a stack pointer in another register); rP re-initialised after. */
  stackViaReg(): Raw[] {
    const p = this.reg();
    const k = 8 * this.r.int(0, 8);
    const out: Raw[] = [ins(Class.ALU64 | AluOp.MOV | Src.X, p, 10), ins(Class.ALU64 | AluOp.ADD | Src.K, p, 0, 0, -k)];
    for (let i = this.r.int(1, 3); i > 0; i--) {
      const size = this.r.pick(SIZES);
      const n = BYTES[size]!;
      const off = -n * this.r.int(1, STACK / n) + k; // address r10 + off - k, inside the zeroed 64 bytes, aligned
      const others = this.live.filter((x) => x !== p);
      const op = this.r.int(0, 2);
      this.count(`stack_${['ldx', 'st', 'stx'][op]}_r${p}`);
      if (op === 0) out.push(ins(Class.LDX | Mode.MEM | size, this.r.pick(others), p, off));
      else if (op === 1) out.push(ins(Class.ST | Mode.MEM | size, p, 0, off, this.imm()));
      else out.push(ins(Class.STX | Mode.MEM | size, p, this.r.pick(others), off));
    }
    return [...out, ...this.reinit([p])];
  }

  jump(): Unit {
    const gotol = this.r.chance(0.2);
    this.count(gotol ? 'gotol' : 'ja');
    return gotol ? { jump: 'gotol' } : { jump: 'ja' };
  }

  /** r1 = map; r2 = hint (0 or an arena address); alloc 1 page; r7 = kernel cast; use it when non-NULL. */
  arenaBlock(): Raw[] {
    const hint = this.r.chance(0.3);
    this.count(hint ? 'kfunc_alloc_hint' : 'kfunc_alloc');
    const out: Raw[] = [ld64(1, 0n, 1), hint ? ld64(2, BigInt(this.r.int(0, this.pages - 1) * 4096) << 32n, 2) : ins(Class.ALU64 | AluOp.MOV | Src.K, 2, 0, 0, 0)];
    out.push(ins(Class.ALU64 | AluOp.MOV | Src.K, 3, 0, 0, 1), ins(Class.ALU64 | AluOp.MOV | Src.K, 4, 0, 0, -1), ins(Class.ALU64 | AluOp.MOV | Src.K, 5, 0, 0, 0));
    out.push(ins(Class.JMP | JmpOp.CALL, 0, 2, 0, KFUNC_KEYS.alloc));
    out.push(ins(Class.ALU64 | AluOp.MOV | Src.X, 7, 0, 1, 1)); // r7 = addr_space_cast(r0, 0, 1)
    out.push(...this.reinit([1, 2, 3, 4, 5]));
    const body: Raw[] = [];
    const accesses = this.r.int(1, 6);
    for (let i = 0; i < accesses; i++) body.push(...this.arenaAccess());
    if (this.r.chance(0.3)) {
      this.count('arena_cast_user');
      body.push(ins(Class.ALU64 | AluOp.MOV | Src.X, 7, 7, 1, 0x10000));
    }
    out.push(ins(Class.JMP | JmpOp.JEQ | Src.K, 0, 0, slots(body), 0)); // if r0 == 0 skip
    out.push(...body);
    out.push(...this.reinit([0, 7]));
    this.count('arena_block');
    return out;
  }

  arenaAccess(): Raw[] {
    const size = this.r.pick(SIZES);
    const n = BYTES[size]!;
    const oob = this.r.chance(0.1);
    const off = oob ? this.r.int(4096, 32767 - n) : this.r.int(0, 4096 - n);
    const aligned = off - (off % n);
    const src = this.r.pick(this.arenaRegs());
    if (oob) this.count('arena_oob');
    if (this.r.chance(0.1)) {
      // ALU64 on an arena pointer: the verifier turns it into ALU32.
      this.count('arena_ptr_alu');
      return [ins(Class.ALU64 | this.r.pick([AluOp.ADD, AluOp.SUB]) | Src.K, 7, 0, 0, 8 * this.r.int(0, 64))];
    }
    switch (this.r.int(0, 5)) {
      case 0:
        return this.count('arena_ldx'), [ins(Class.LDX | Mode.MEM | size, this.r.pick(this.arenaRegs()), 7, off)];
      case 1:
        if (size === Size.DW) return this.count('arena_ldx'), [ins(Class.LDX | Mode.MEM | size, this.r.pick(this.arenaRegs()), 7, off)];
        return this.count('arena_ldsx'), [ins(Class.LDX | Mode.MEMSX | size, this.r.pick(this.arenaRegs()), 7, off)];
      case 2:
        return this.count('arena_st'), [ins(Class.ST | Mode.MEM | size, 7, 0, off, this.imm())];
      case 3:
        return this.count('arena_stx'), [ins(Class.STX | Mode.MEM | size, 7, src, off)];
      case 4: {
        const sz = this.r.pick([Size.W, Size.DW]);
        const m = BYTES[sz]!;
        const op = this.r.pick([AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR, AtomicOp.ADD | AtomicOp.FETCH, AtomicOp.XCHG, AtomicOp.CMPXCHG]);
        return this.count('arena_atomic'), [ins(Class.STX | Mode.ATOMIC | sz, 7, src, off - (off % m), op)];
      }
      default:
        this.count('arena_acqrel');
        return this.r.chance(0.5)
          ? [ins(Class.STX | Mode.ATOMIC | size, this.r.pick(this.arenaRegs()), 7, aligned, AtomicOp.LOAD_ACQ)]
          : [ins(Class.STX | Mode.ATOMIC | size, 7, src, aligned, AtomicOp.STORE_REL)];
    }
  }

  /** A helper call; a result that varies per run (time, CPU, random) is discarded or marks the program. */
  helperCall(): Raw[] {
    const [name, id, varies] = this.r.pick(HELPERS);
    this.count(`helper_${name.slice(4)}`);
    const out: Raw[] = [ins(Class.JMP | JmpOp.CALL, 0, 0, 0, id), ...this.reinit([1, 2, 3, 4, 5])];
    if (varies !== false && this.r.chance(0.5)) out.push(...this.reinit([0]));
    else if (varies === true && !this.nondeterministic.includes(`helper:${name}`)) this.nondeterministic.push(`helper:${name}`);
    return out;
  }

  /**
   * A bounded backward loop: counter c (r6 or r8) = 1..8; body of ALU ops on other registers; c -= 1;
   * `if c != 0 goto body`. Half of them also start each iteration with may_goto (the verifier's rewrite
   * adds a stack slot and, on this kernel, a call to arch_bpf_timed_may_goto).
   */
  loop(): Raw[] {
    const c = this.r.pick([6, 8]);
    const mayGoto = this.r.chance(0.5);
    this.count(mayGoto ? 'may_goto_loop' : 'loop');
    const body: Raw[] = [];
    for (let i = this.r.int(1, 5); i > 0; i--) {
      let x = this.alu();
      while (x.some((y) => y.dst === c || ((y.code & Src.X) !== 0 && y.src === c))) x = this.alu();
      body.push(...x);
    }
    const inner = [...body, ins(Class.ALU64 | AluOp.SUB | Src.K, c, 0, 0, 1)];
    const head = mayGoto ? [ins(Class.JMP | JmpOp.JCOND, 0, 0, slots(inner) + 1, 0)] : [];
    const back = -(slots(head) + slots(inner) + 1);
    return [ins(Class.ALU64 | AluOp.MOV | Src.K, c, 0, 0, this.r.int(1, 8)), ...head, ...inner, ins(Class.JMP | JmpOp.JNE | Src.K, c, 0, back, 0)];
  }

  freeBlock(): Raw[] {
    this.count('kfunc_free');
    return [
      ld64(1, 0n, 1),
      ld64(2, BigInt(this.r.int(0, this.pages - 1) * 4096) << 32n, 2),
      ins(Class.ALU64 | AluOp.MOV | Src.K, 3, 0, 0, 1),
      ins(Class.JMP | JmpOp.CALL, 0, 2, 0, KFUNC_KEYS.free),
      ...this.reinit([0, 1, 2, 3, 4, 5]),
    ];
  }
}

const slots = (xs: readonly Raw[]) => xs.reduce((n, x) => n + (x.code === LD_IMM64 ? 2 : 1), 0);
/** ja/gotol take two slots: `if rX == K goto +1` first, so the code they skip stays reachable (check_cfg). */
const unitSlots = (u: Unit) => ('insns' in u ? slots(u.insns) : u.jump === 'cond' ? 1 : 2);

const COND = [JmpOp.JEQ, JmpOp.JGT, JmpOp.JGE, JmpOp.JSET, JmpOp.JNE, JmpOp.JSGT, JmpOp.JSGE, JmpOp.JLT, JmpOp.JLE, JmpOp.JSLT, JmpOp.JSLE];
const COND_NAME: Record<number, string> = Object.fromEntries(Object.entries(JmpOp).map(([k, v]) => [v, k.toLowerCase()]));

/** Generates program `index` of a seed. */
export function generate(o: GenOptions): Generated {
  const r = new Rng((Math.imul(o.seed, 0x9e3779b1) ^ Math.imul(o.index + 1, 0x85ebca6b) ^ Math.imul(o.attempt ?? 0, 0xc2b2ae35)) >>> 0);
  const arena = r.chance(0.67);
  const pages = r.int(1, 16);
  const noUserConv = arena && r.chance(0.1);
  const g = new Gen(r, arena, pages, noUserConv);
  // Most programs use r0-r8 (all callee-saved registers pushed); some only a subset of r6-r8.
  if (r.chance(0.3)) g.live = [0, 1, 2, 3, 4, 5, ...[6, 7, 8].filter(() => r.chance(0.5))];
  const bodySize = r.int(10, 60);
  const subprog = r.chance(0.25);
  const units: Unit[] = [];
  let size = 0;
  while (size < bodySize) {
    const k = r.int(0, 99);
    let u: Unit;
    if (k < 45) u = { insns: g.alu() };
    else if (k < 70) u = { insns: g.mem() };
    else if (k < 82) {
      const is32 = r.chance(0.4);
      const op = r.pick(COND);
      g.count(`${is32 ? 'jmp32' : 'jmp'}_j${COND_NAME[op]!.slice(1)}`);
      u = { jump: 'cond', op, is32, reg: r.chance(0.5) };
    } else if (k < 86) u = g.jump();
    else if (k < 89) {
      g.count('ld_imm64');
      u = { insns: [ld64(g.reg(), g.value())] };
    } else if (k < 91) u = { insns: g.helperCall() };
    else if (k < 93) u = { insns: g.loop() };
    else if (k < 94) u = { insns: r.chance(0.5) ? g.bigIf() : g.earlyExit() };
    else if (k < 95 && !g.stats.ladder_jumps) u = { insns: g.ladder() };
    else if (arena && k < 96) u = { insns: g.arenaBlock() };
    else if (arena && k < 98) u = { insns: g.freeBlock() };
    else if (subprog) {
      g.count('pseudo_call');
      u = { insns: [ins(Class.JMP | JmpOp.CALL, 0, 1, 0, 0), ...g.reinit([1, 2, 3, 4, 5])] };
    } else u = { insns: g.alu() };
    units.push(u);
    size += unitSlots(u);
  }
  // A subprogram nobody calls is unreachable code, which the verifier refuses.
  if (subprog && !units.some((u) => 'insns' in u && u.insns.some((x) => x.src === 1 && x.code === (Class.JMP | JmpOp.CALL)))) {
    g.count('pseudo_call');
    units.push({ insns: [ins(Class.JMP | JmpOp.CALL, 0, 1, 0, 0), ...g.reinit([1, 2, 3, 4, 5])] });
  }
  return assemble(g, units, bodySize, subprog, arena, pages, noUserConv);
}

function assemble(g: Gen, units: Unit[], bodySize: number, subprog: boolean, arena: boolean, pages: number, noUserConv: boolean): Generated {
  const r = g.r;
  const head: Raw[] = [ins(Class.ALU64 | AluOp.MOV | Src.X, CTX, 1)];
  for (let off = -8; off >= -STACK; off -= 8) head.push(ins(Class.ST | Mode.MEM | Size.DW, 10, 0, off, 0));
  for (const d of g.live) head.push(ld64(d, g.value()));
  // Slot of each unit boundary, then jumps get their offsets.
  const starts: number[] = [];
  let pc = slots(head);
  for (const u of units) {
    starts.push(pc);
    pc += unitSlots(u);
  }
  starts.push(pc);
  const body: Raw[] = [];
  units.forEach((u, i) => {
    if ('insns' in u) return body.push(...u.insns);
    const target = Math.min(units.length, i + 1 + r.int(0, 10));
    const off = starts[target]! - starts[i]! - 1;
    const guard = ins(Class.JMP | JmpOp.JEQ | Src.K, g.reg(), 0, 1, g.imm());
    if (u.jump === 'ja') return body.push(guard, ins(Class.JMP | JmpOp.JA, 0, 0, off - 1));
    if (u.jump === 'gotol') return body.push(guard, ins(Class.JMP32 | JmpOp.JA, 0, 0, 0, off - 1));
    const cls = u.is32 ? Class.JMP32 : Class.JMP;
    return body.push(u.reg ? ins(cls | u.op | Src.X, g.reg(), g.reg(), off) : ins(cls | u.op | Src.K, g.reg(), 0, off, g.imm()));
  });
  const tail: Raw[] = [];
  for (const d of g.live) tail.push(ins(Class.STX | Mode.MEM | Size.DW, CTX, d, d * 8));
  tail.push(ins(Class.JMP | JmpOp.EXIT));
  const main = [...head, ...body, ...tail];
  const mainSlots = slots(main);
  const all: Raw[] = [...main];
  if (subprog) {
    g.count('subprog');
    all.push(...subprogram(g));
  }
  // bpf-to-bpf calls: imm = callee - (pc + 1).
  let at = 0;
  const insns: Insn[] = all.map((x) => {
    const i: Insn = { ...x, pc: at };
    at += x.code === LD_IMM64 ? 2 : 1;
    return x.code === (Class.JMP | JmpOp.CALL) && x.src === 1 ? { ...i, imm: mainSlots - i.pc - 1 } : i;
  });
  const prefault: Record<string, string> = {};
  if (arena) for (let pg = 0; pg < pages; pg++) if (r.chance(0.3)) prefault[String(pg)] = Buffer.from(r.bytes(4096)).toString('hex');
  const mapExtra = r.pick([0n, 1n << 32n, 3n << 31n, 1n << 40n]);
  const env: RunEnv = {
    arena: arena ? { pages, flags: noUserConv ? 1 << 18 : 0, map_extra: mapExtra } : null,
    kfuncs: arena ? GEN_KFUNCS : {},
    prefault,
    ctx: Buffer.from(r.bytes(CTX_SIZE)).toString('hex'),
  };
  return { prog: { insns, slots: at }, env, bodySize, subprog, stats: Object.fromEntries(Object.entries(g.stats).sort()), nondeterministic: g.nondeterministic };
}

/**
 * A subprogram: takes r1-r5, uses a random subset of the callee-saved r6-r9 (initialised first: the JIT
 * pushes only those), a stack area of any depth (zeroed before use), and may return early (later exits
 * jump to the epilogue of the first).
 */
function subprogram(g: Gen): Raw[] {
  const r = g.r;
  const saved = [6, 7, 8, 9].filter(() => r.chance(0.4));
  const depth = r.chance(0.25) ? 0 : r.int(1, 96);
  const regs = [0, 1, 2, 3, 4, 5, ...saved];
  const out: Raw[] = [ins(Class.ALU64 | AluOp.MOV | Src.X, 0, 1)];
  for (const d of saved) out.push(ins(Class.ALU64 | AluOp.MOV | Src.X, d, r.int(1, 5)));
  for (let off = 8; off <= depth; off += 8) out.push(ins(Class.ST | Mode.MEM | Size.DW, 10, 0, -off, 0));
  if (depth % 8) out.push(ins(Class.ST | Mode.MEM | Size.B, 10, 0, -depth, 0)); // the deepest byte: depth not a multiple of 8
  const n = r.int(2, 10);
  for (let i = 0; i < n; i++) {
    const k = r.int(0, 9);
    if (k < 5) out.push(r.chance(0.5) ? ins(Class.ALU64 | r.pick([AluOp.ADD, AluOp.XOR, AluOp.MUL, AluOp.SUB, AluOp.OR]) | Src.X, r.pick(regs), r.pick(regs)) : ins(Class.ALU | r.pick([AluOp.ADD, AluOp.OR, AluOp.AND, AluOp.LSH]) | Src.K, r.pick(regs), 0, 0, r.int(0, 31)));
    else if (k < 8 && depth >= 8) {
      const off = -8 * r.int(1, Math.floor(depth / 8));
      out.push(r.chance(0.5) ? ins(Class.STX | Mode.MEM | Size.DW, 10, r.pick(regs), off) : ins(Class.LDX | Mode.MEM | Size.DW, r.pick(regs), 10, off));
    } else if (k === 8) {
      g.count('early_exit');
      out.push(ins(Class.JMP | r.pick(COND) | Src.K, r.pick(regs), 0, 1, g.imm()), ins(Class.JMP | JmpOp.EXIT));
    } else out.push(ins(Class.ALU64 | AluOp.MOV | Src.X, 0, r.pick(regs)));
  }
  out.push(ins(Class.JMP | JmpOp.EXIT));
  return out;
}
