// src/fuzz — program sources of the differential fuzzer. Base programs come from the corpus generator
// (src/kernel/gen.ts: verifier-friendly units over ALU32/64, ctx/stack memory, atomics, jumps, arena blocks,
// helpers, subprograms); this module adds what a kernel corpus cannot hold (bounded loops with JMP/JMP32
// back-edges and may_goto, division edge cases, faulting accesses, arena guard accesses) by inserting blocks
// at the points where every register r0-r8 is a scalar, and mutates corpus programs field by field.
import type { RunEnv } from '../env.js';
import type { Program } from '../isa/insn.js';
import { AluOp, AtomicOp, Class, JmpOp, LD_IMM64, Mode, Size, Src, insnClass } from '../isa/opcodes.js';
import { generate, Rng } from '../kernel/gen.js';
import { EditList, type Raw } from './edit.js';
import { arenaView, interpret, kfuncsFromTable, Layout, LINUX_HELPERS } from '../interp/index.js';
import { arenaOf } from './pipeline.js';

export interface FuzzCase {
  readonly prog: Program;
  readonly env: RunEnv;
  /** Where it came from (for reports). */
  readonly origin: string;
}

const ins = (code: number, dst = 0, src = 0, off = 0, imm = 0): Raw => ({ code, dst, src, off, imm: imm | 0 });
const ld64 = (dst: number, v: bigint): Raw => ({ code: LD_IMM64, dst, src: 0, off: 0, imm: Number(BigInt.asIntN(32, v)), imm2: Number(BigInt.asIntN(32, v >> 32n)) });

const EDGE = [0n, 1n, 2n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0xffffffff80000000n, 63n, 64n, 31n, 32n];
const EDGE_IMM = [0, 1, -1, 2, 0x7fffffff, -0x80000000, 31, 32, 63, 64, 0xffff, -0x8000];
const ALU_OPS = [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.OR, AluOp.AND, AluOp.LSH, AluOp.RSH, AluOp.MOD, AluOp.XOR, AluOp.MOV, AluOp.ARSH];
const COND = [JmpOp.JEQ, JmpOp.JGT, JmpOp.JGE, JmpOp.JSET, JmpOp.JNE, JmpOp.JSGT, JmpOp.JSGE, JmpOp.JLT, JmpOp.JLE, JmpOp.JSLT, JmpOp.JSLE];

function edgeValue(r: Rng): bigint {
  return r.chance(0.7) ? r.pick(EDGE) : BigInt.asUintN(64, (BigInt(r.u32()) << 32n) | BigInt(r.u32()));
}

/** One ALU instruction on scalar registers (never `avoid`), edge immediates, signed div/mod, movsx, bswap. */
function aluInsn(r: Rng, avoid: number): Raw[] {
  const regs = [0, 1, 2, 3, 4, 5, 6, 7, 8].filter((x) => x !== avoid);
  const dst = r.pick(regs);
  const src = r.pick(regs);
  const cls = r.chance(0.5) ? Class.ALU64 : Class.ALU;
  const k = r.int(0, 9);
  if (k === 0) return [ins(cls | AluOp.NEG, dst)];
  if (k === 1) return [cls === Class.ALU64 ? ins(Class.ALU64 | AluOp.END, dst, 0, 0, r.pick([16, 32, 64])) : ins(Class.ALU | AluOp.END | (r.chance(0.5) ? Src.X : Src.K), dst, 0, 0, r.pick([16, 32, 64]))];
  if (k === 2) return [ins(cls | AluOp.MOV | Src.X, dst, src, r.pick(cls === Class.ALU64 ? [8, 16, 32] : [8, 16]))];
  const op = r.pick(ALU_OPS);
  const off = (op === AluOp.DIV || op === AluOp.MOD) && r.chance(0.5) ? 1 : 0;
  if (r.chance(0.5)) return [ins(cls | op | Src.X, dst, src, off)];
  let imm = r.chance(0.6) ? r.pick(EDGE_IMM) : r.u32() | 0;
  if (op === AluOp.LSH || op === AluOp.RSH || op === AluOp.ARSH) imm = r.int(0, cls === Class.ALU64 ? 63 : 31);
  if ((op === AluOp.DIV || op === AluOp.MOD) && imm === 0) imm = -1;
  return [ins(cls | op | Src.K, dst, 0, off, imm)];
}

/** Block with local jumps: `to` is an index inside the block (block length = just after it). */
type Block = (Raw & { to?: number })[];

/** A counted loop: rC = n; body; rC -= 1; if rC != 0 goto body (JMP or JMP32), optionally may_goto guarded. */
function loopBlock(r: Rng): Block {
  const c = r.int(0, 8);
  const n = r.int(1, 40);
  const body: Raw[] = [];
  const len = r.int(1, 6);
  for (let i = 0; i < len; i++) body.push(...aluInsn(r, c));
  const mayGoto = r.chance(0.3);
  const cls = r.chance(0.5) ? Class.JMP32 : Class.JMP;
  const out: Block = [ins(Class.ALU64 | AluOp.MOV | Src.K, c, 0, 0, n)];
  const top = out.length;
  const end = 1 + (mayGoto ? 1 : 0) + body.length + 2;
  if (mayGoto) out.push({ ...ins(Class.JMP | JmpOp.JCOND), to: end });
  out.push(...body, r.chance(0.5) ? ins(cls === Class.JMP32 ? Class.ALU | AluOp.SUB : Class.ALU64 | AluOp.SUB, c, 0, 0, 1) : ins(Class.ALU64 | AluOp.ADD, c, 0, 0, -1));
  out.push(r.chance(0.5) ? { ...ins(cls | JmpOp.JNE | Src.K, c, 0, 0, 0), to: top } : { ...ins(cls | JmpOp.JSGT | Src.K, c, 0, 0, 0), to: top });
  return out;
}

/** INT_MIN / -1 and friends, by register and immediate, 32 and 64 bit. */
function divEdge(r: Rng): Block {
  const a = r.int(0, 8);
  let b = r.int(0, 8);
  if (b === a) b = (a + 1) % 9;
  const cls = r.chance(0.5) ? Class.ALU64 : Class.ALU;
  const op = r.pick([AluOp.DIV, AluOp.MOD]);
  const off = r.chance(0.7) ? 1 : 0;
  const out: Block = [ld64(a, r.pick([0x8000000000000000n, 0xffffffff80000000n, 0x80000000n, edgeValue(r)])), ld64(b, r.pick([0xffffffffffffffffn, 0n, 0xffffffffn, 0x100000000n]))];
  out.push(r.chance(0.5) ? ins(cls | op | Src.X, a, b, off) : ins(cls | op | Src.K, a, 0, off, -1));
  return out;
}

/** A load or store that faults (an address outside every region and outside the arena's 4 GiB + guards). */
function faultingAccess(r: Rng): Block {
  const p = r.int(0, 8);
  const addr = r.pick([0xdead00000000n, 0xffff_ffff_0000_0000n, 0x7fff_0000_0000n]);
  const size = r.pick([Size.B, Size.H, Size.W, Size.DW]);
  const k = r.int(0, 2);
  const access = k === 0 ? ins(Class.LDX | Mode.MEM | size, r.int(0, 8), p, r.int(-64, 64)) : k === 1 ? ins(Class.ST | Mode.MEM | size, p, 0, 0, 7) : ins(Class.STX | Mode.ATOMIC | Size.DW, p, (p + 1) % 9, 0, AtomicOp.ADD);
  return [ld64(p, addr), access];
}

/** Inserts extra blocks after the prologue and before the epilogue of a generated program (r0-r8 scalars there). */
function extend(prog: Program, r: Rng): { prog: Program; added: string[] } {
  const e = new EditList(prog);
  // The epilogue: r0-r8 stored to ctx[0..72) then exit.
  const isTail = (i: number): boolean =>
    Array.from({ length: 9 }, (_, d) => e.items[i + d]?.insn).every((x, d) => x?.code === (Class.STX | Mode.MEM | Size.DW) && x.dst === 9 && x.src === d && x.off === d * 8);
  const tailStart = e.items.findIndex((_, i) => isTail(i));
  const headEnd = e.items.findIndex((x, i) => i > 0 && x.insn.code === LD_IMM64 && x.insn.dst === 8) + 1;
  if (tailStart < 0 || headEnd <= 0) return { prog, added: [] };
  const added: string[] = [];
  const blocks: [number, Block][] = [];
  const n = r.int(0, 3);
  for (let i = 0; i < n; i++) {
    const k = r.int(0, 99);
    const at = r.chance(0.5) ? headEnd : tailStart;
    if (k < 60) (added.push('loop'), blocks.push([at, loopBlock(r)]));
    else if (k < 95) (added.push('div_edge'), blocks.push([at, divEdge(r)]));
    else (added.push('fault'), blocks.push([tailStart, faultingAccess(r)])); // ends the run: rare
  }
  // Later positions first, so earlier indices stay valid.
  blocks.sort((a, b) => b[0] - a[0]);
  for (const [at, block] of blocks) e.insert(at, block);
  return { prog: e.toProgram(), added };
}

/** Program `index` of a fuzz seed: a generated program, extended with some probability. */
export function generated(seed: number, index: number): FuzzCase {
  const g = generate({ seed, index });
  const r = new Rng((Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(index, 0x165667b1)) >>> 0);
  const { prog, added } = r.chance(0.6) ? extend(g.prog, r) : { prog: g.prog, added: [] };
  return { prog, env: g.env, origin: `gen seed ${seed} index ${index}${added.length ? ` +${added.join('+')}` : ''}` };
}

/**
 * Instruction indices a mutation may change without leaving what the verifier would accept: those that ran in
 * a reference run and never saw a stack, context or arena-user pointer in their operands (pointer arithmetic
 * other than add/sub is refused by the verifier), and that do not set up a helper's arguments (a size or
 * flags out of range is refused too). Null when the reference run fails.
 */
export function mutableSites(prog: Program, env: RunEnv): Set<number> | null {
  const ctxLen = BigInt(env.ctx.length / 2);
  const userStart = env.arena ? BigInt(env.arena.map_extra) || Layout.DEFAULT_USER_VM_START : -1n;
  const isPtr = (v: bigint): boolean =>
    (v >= Layout.STACK_TOP - 8192n && v <= Layout.STACK_TOP + 4096n) ||
    (v >= Layout.CTX_BASE && v <= Layout.CTX_BASE + ctxLen + 4096n) ||
    (userStart >= 0n && v >= userStart && v < userStart + (1n << 32n)) ||
    v >= 0xffff_0000_0000_0000n;
  const index = new Map(prog.insns.map((x, i) => [x.pc, i]));
  const tainted = new Set<number>();
  const executed = new Set<number>();
  let ran: boolean;
  try {
    const a = arenaOf(env);
    try {
      const res = interpret(prog, {
        ctx: new Uint8Array(Buffer.from(env.ctx, 'hex')),
        arena: a ? arenaView(a) : null,
        kfuncs: kfuncsFromTable(env.kfuncs),
        helpers: LINUX_HELPERS,
        maxInsns: 200_000,
        trace: (pc, regs) => {
          const x = prog.insns[index.get(pc)!]!;
          executed.add(index.get(pc)!);
          if (isPtr(regs[x.dst] ?? 0n) || ((x.code & Src.X) !== 0 && isPtr(regs[x.src] ?? 0n))) tainted.add(index.get(pc)!);
        },
      });
      ran = !res.fault;
    } finally {
      a?.dispose();
    }
  } catch {
    ran = false;
  }
  if (!ran) return null;
  const out = new Set<number>();
  prog.insns.forEach((x, i) => {
    if (tainted.has(i) || !executed.has(i)) return; // unexecuted: operand kinds unknown
    // A register r1-r5 written shortly before a call is probably one of its arguments.
    if (x.dst >= 1 && x.dst <= 5 && prog.insns.slice(i + 1, i + 9).some((y) => y.code === (Class.JMP | JmpOp.CALL))) return;
    out.add(i);
  });
  return out;
}

/** Mutates field values of a corpus program (immediates, ALU ops, jump conditions and classes) at `sites`. */
export function mutate(prog: Program, r: Rng, count: number, sites?: ReadonlySet<number>): Program {
  const e = new EditList(prog);
  const allowed = sites ? [...sites] : null;
  for (let k = 0; k < count && e.length > 0; k++) {
    if (allowed && allowed.length === 0) break;
    const i = allowed ? r.pick(allowed) : r.int(0, e.length - 1);
    const x = e.items[i]!.insn;
    const cls = insnClass(x.code);
    if (x.code === LD_IMM64) {
      if (x.src === 0) {
        const v = edgeValue(r);
        e.replace(i, { ...x, imm: Number(BigInt.asIntN(32, v)), imm2: Number(BigInt.asIntN(32, v >> 32n)) });
      }
    } else if (cls === Class.ALU || cls === Class.ALU64) {
      const op = x.code & 0xf0;
      if (op === AluOp.END || op === AluOp.NEG || x.off !== 0) continue;
      if (r.chance(0.5) && (x.code & Src.X) === 0 && op !== AluOp.LSH && op !== AluOp.RSH && op !== AluOp.ARSH) {
        // Not div/mod by the immediate 0: a known front-end gap (test/regressions/div-mod-by-imm-zero.json).
        const imm = r.chance(0.6) ? r.pick(EDGE_IMM) : r.u32() | 0;
        e.replace(i, { ...x, imm: imm === 0 && (op === AluOp.DIV || op === AluOp.MOD) ? 1 : imm });
      }
      else if (op !== AluOp.MOV) {
        const nop = r.pick(ALU_OPS.filter((o) => o !== AluOp.MOV));
        const shift = nop === AluOp.LSH || nop === AluOp.RSH || nop === AluOp.ARSH;
        const k = (x.code & Src.X) === 0;
        const imm = k && shift ? r.int(0, cls === Class.ALU64 ? 63 : 31) : k && (nop === AluOp.DIV || nop === AluOp.MOD) && x.imm === 0 ? 3 : x.imm;
        e.replace(i, { ...x, code: cls | nop | (x.code & Src.X), imm });
      }
    } else if (cls === Class.JMP || cls === Class.JMP32) {
      const op = x.code & 0xf0;
      if (!COND.includes(op as (typeof COND)[number])) continue;
      const v = r.int(0, 2);
      if (v === 0) e.replace(i, { ...x, code: cls | r.pick(COND) | (x.code & Src.X) });
      else if (v === 1) e.replace(i, { ...x, code: (cls === Class.JMP ? Class.JMP32 : Class.JMP) | op | (x.code & Src.X) });
      else if ((x.code & Src.X) === 0) e.replace(i, { ...x, imm: r.chance(0.6) ? r.pick(EDGE_IMM) : r.u32() | 0 });
    } else if (cls === Class.ST && x.imm !== undefined) {
      e.replace(i, { ...x, imm: r.chance(0.6) ? r.pick(EDGE_IMM) : r.u32() | 0 });
    }
  }
  return e.toProgram();
}

/** Mutated ctx bytes and prefault pages keep the environment's shape. */
export function mutateEnv(env: RunEnv, r: Rng): RunEnv {
  const ctx = Buffer.from(env.ctx, 'hex');
  for (let k = r.int(0, 8); k > 0 && ctx.length > 0; k--) ctx[r.int(0, ctx.length - 1)] = r.u32() & 0xff;
  return { ...env, ctx: ctx.toString('hex') };
}
