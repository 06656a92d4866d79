// src/jit/frontend — the verifier's instruction rewrites after verification, in the kernel's order:
// PROBE_* marking of arena accesses (convert_ctx_accesses), then do_misc_fixups (address-space casts,
// ALU64→ALU32 on arena pointers, div/mod checks with AX, may_goto, helper inlining, call immediates),
// then the zero-extension after 32-bit cmpxchg (opt_subreg_zext_lo32_rnd_hi32 on x86-64).

import { insnError } from '../../errors.js';
import { AluOp, AtomicOp, Class, JmpOp, Mode, MovOff, PseudoCall, Reg, Size, Src } from '../../isa/opcodes.js';
import { slot, type Slot, type SlotProgram } from './slots.js';
import type { CallTarget, FrontEndEnv } from './types.js';

export const BPF_F_NO_USER_CONV = 1 << 18;
const BPF_MAX_LOOPS = 8 * 1024 * 1024;
const BPF_MAX_TIMED_LOOPS = 0xffff;
const AX = Reg.AX;
const FP = Reg.FP;

export const Helper = { get_smp_processor_id: 8, get_current_task: 35, jiffies64: 118, get_current_task_btf: 158 } as const;

const LDX_DW = Class.LDX | Mode.MEM | Size.DW;
const STX_DW = Class.STX | Mode.MEM | Size.DW;
const ST_DW = Class.ST | Mode.MEM | Size.DW;

/** convert_ctx_accesses for arena accesses: MEM → PROBE_MEM32, MEMSX → PROBE_MEM32SX, ATOMIC → PROBE_ATOMIC. */
export function markArenaAccesses(p: SlotProgram): void {
  for (let i = 0; i < p.length; i++) {
    if (!p.aux[i]!.arena) continue;
    const s = p.slots[i]!;
    const cls = s.code & 7;
    const mode = s.code & 0xe0;
    const size = s.code & 0x18;
    if (cls === Class.STX && mode === Mode.ATOMIC) s.code = Class.STX | Mode.PROBE_ATOMIC | size;
    else if (cls === Class.LDX && mode === Mode.MEMSX) s.code = Class.LDX | Mode.PROBE_MEM32SX | size;
    else if ((cls === Class.LDX || cls === Class.ST || cls === Class.STX) && mode === Mode.MEM) s.code = cls | Mode.PROBE_MEM32 | size;
  }
}

function callImm(pc: number, env: FrontEndEnv, target: CallTarget): number {
  const addr = env.resolveCall(target);
  const rel = addr - env.callBase;
  if (rel < -(1n << 31n) || rel >= 1n << 31n) {
    const what = target.kind === 'helper' ? `helper #${target.id}` : target.name;
    throw insnError(pc, `address of ${what} is out of range of the call base`);
  }
  return Number(rel);
}

function divModPatch(s: Slot): Slot[] {
  const is64 = (s.code & 7) === Class.ALU64;
  const isDiv = (s.code & 0xf0) === AluOp.DIV;
  const alu = is64 ? Class.ALU64 : Class.ALU;
  const jmp = is64 ? Class.JMP : Class.JMP32;
  const K = Src.K;
  const signed = s.off === 1;
  const insn = { ...s };
  if (signed && isDiv) {
    return [
      slot(Class.ALU64 | AluOp.MOV | Src.X, AX, s.src),
      slot(alu | AluOp.ADD | K, AX, 0, 0, 1),
      slot(jmp | JmpOp.JGT | K, AX, 0, 4, 1),
      slot(jmp | JmpOp.JEQ | K, AX, 0, 1, 0),
      slot(alu | AluOp.MOV | K, s.dst, 0, 0, 0),
      slot(alu | AluOp.NEG | K, s.dst, 0, 0, 0),
      slot(Class.JMP | JmpOp.JA, 0, 0, 1),
      insn,
    ];
  }
  if (signed) {
    const out = [
      slot(Class.ALU64 | AluOp.MOV | Src.X, AX, s.src),
      slot(alu | AluOp.ADD | K, AX, 0, 0, 1),
      slot(jmp | JmpOp.JGT | K, AX, 0, 3, 1),
      slot(jmp | JmpOp.JEQ | K, AX, 0, is64 ? 3 : 4, 1),
      slot(Class.ALU | AluOp.MOV | K, s.dst, 0, 0, 0),
      slot(Class.JMP | JmpOp.JA, 0, 0, 1),
      insn,
    ];
    if (!is64) out.push(slot(Class.JMP | JmpOp.JA, 0, 0, 1), slot(Class.ALU | AluOp.MOV | Src.X, s.dst, s.dst));
    return out;
  }
  if (isDiv) {
    return [
      slot(jmp | JmpOp.JNE | K, s.src, 0, 2, 0),
      slot(Class.ALU | AluOp.XOR | Src.X, s.dst, s.dst),
      slot(Class.JMP | JmpOp.JA, 0, 0, 1),
      insn,
    ];
  }
  const out = [slot(jmp | JmpOp.JEQ | K, s.src, 0, is64 ? 1 : 2, 0), insn];
  if (!is64) out.push(slot(Class.JMP | JmpOp.JA, 0, 0, 1), slot(Class.ALU | AluOp.MOV | Src.X, s.dst, s.dst));
  return out;
}

/** Rewrites one slot; returns the replacement or null to keep it (possibly modified in place). */
function rewrite(p: SlotProgram, pos: number, env: FrontEndEnv, depth: number, notes: string[]): { patch: Slot[]; extra?: number } | null {
  const s = p.slots[pos]!;
  const orig = p.aux[pos]!.orig;
  const where = orig >= 0 ? orig : pos;
  if (s.code === (Class.ALU64 | AluOp.MOV | Src.X) && s.imm !== 0) {
    const noUserConv = ((env.arena?.flags ?? 0) & BPF_F_NO_USER_CONV) !== 0;
    if ((s.off === MovOff.ADDR_SPACE_CAST && s.imm === 1) || noUserConv) {
      s.code = Class.ALU | AluOp.MOV | Src.X;
      s.off = 0;
      s.imm = 0;
    }
    return null;
  }
  if (p.aux[pos]!.needsZext) s.code = Class.ALU | (s.code & 0xf8);
  const cls = s.code & 7;
  const op = s.code & 0xf0;
  if ((cls === Class.ALU || cls === Class.ALU64) && (op === AluOp.DIV || op === AluOp.MOD)) {
    if ((s.code & Src.X) === Src.K) {
      if (s.off === 1 && s.imm === -1) {
        const alu = cls === Class.ALU64 ? Class.ALU64 : Class.ALU;
        return { patch: [op === AluOp.DIV ? slot(alu | AluOp.NEG | Src.K, s.dst) : slot(Class.ALU | AluOp.MOV | Src.K, s.dst, 0, 0, 0)] };
      }
      return null;
    }
    return { patch: divModPatch(s) };
  }
  if (cls === Class.LD && ((s.code & 0xe0) === Mode.ABS || (s.code & 0xe0) === Mode.IND)) {
    throw insnError(where, 'BPF_LD_[ABS|IND] instructions are not supported by this front end');
  }
  if (s.code === (Class.JMP | JmpOp.JCOND)) {
    const timed = env.timedMayGoto ?? true;
    if (timed) {
      const cnt = -depth - 16;
      return {
        extra: 16,
        patch: [
          slot(LDX_DW, AX, FP, cnt),
          slot(Class.JMP | JmpOp.JEQ | Src.K, AX, 0, s.off >= 0 ? s.off + 5 : s.off - 1, 0),
          slot(Class.ALU64 | AluOp.SUB | Src.K, AX, 0, 0, 1),
          slot(Class.JMP | JmpOp.JNE | Src.K, AX, 0, 2, 0),
          slot(Class.ALU64 | AluOp.MOV | Src.K, AX, 0, 0, cnt),
          slot(Class.JMP | JmpOp.CALL, 0, 0, 0, callImm(where, env, { kind: 'internal', name: 'arch_bpf_timed_may_goto' })),
          slot(STX_DW, FP, AX, cnt),
        ],
      };
    }
    const off = -depth - 8;
    return {
      extra: 8,
      patch: [
        slot(LDX_DW, AX, FP, off),
        slot(Class.JMP | JmpOp.JEQ | Src.K, AX, 0, s.off >= 0 ? s.off + 2 : s.off - 1, 0),
        slot(Class.ALU64 | AluOp.SUB | Src.K, AX, 0, 0, 1),
        slot(STX_DW, FP, AX, off),
      ],
    };
  }
  if (s.code !== (Class.JMP | JmpOp.CALL) || s.src === PseudoCall.CALL) return null;
  if (s.src === PseudoCall.KFUNC) {
    const key = `0x${(s.imm >>> 0).toString(16)}`;
    const name = env.kfuncs?.[key];
    if (name === undefined) throw insnError(where, `kfunc call imm ${key} is not in the kfunc table`);
    s.imm = callImm(where, env, { kind: 'kfunc', name });
    return null;
  }
  if (s.src !== PseudoCall.HELPER) throw insnError(where, `invalid call src_reg ${s.src}`);
  const id = s.imm;
  if (id === Helper.jiffies64) {
    if (env.jiffiesAddr === undefined) throw insnError(where, 'bpf_jiffies64 is inlined by the verifier: the address of jiffies is needed (jiffiesAddr)');
    const a = env.jiffiesAddr;
    return {
      patch: [
        slot(Class.LD | Size.DW | Mode.IMM, 0, 0, 0, Number(BigInt.asIntN(32, a))),
        slot(0, 0, 0, 0, Number(BigInt.asIntN(32, a >> 32n))),
        slot(LDX_DW, 0, 0, 0),
      ],
    };
  }
  const percpu = id === Helper.get_smp_processor_id ? env.cpuNumberAddr : id === Helper.get_current_task || id === Helper.get_current_task_btf ? env.currentTaskAddr : undefined;
  if (percpu !== undefined) {
    return {
      patch: [
        slot(Class.ALU64 | AluOp.MOV | Src.K, 0, 0, 0, percpu | 0),
        slot(Class.ALU64 | AluOp.MOV | Src.X, 0, 0, MovOff.PERCPU, 0),
        slot(Class.LDX | Mode.MEM | (id === Helper.get_smp_processor_id ? Size.W : Size.DW), 0, 0, 0),
      ],
    };
  }
  if (id === Helper.get_smp_processor_id) notes.push(`insn ${where}: bpf_get_smp_processor_id kept as a call (no cpuNumberAddr): the kernel inlines it`);
  if (id === 12) throw insnError(where, 'bpf_tail_call is not supported by this front end');
  s.imm = callImm(where, env, { kind: 'helper', id });
  return null;
}

/** do_misc_fixups, then the may_goto counter initialisation at each function start. */
export function miscFixups(p: SlotProgram, env: FrontEndEnv, notes: string[]): void {
  let cur = 0;
  let depth = p.depth[0] ?? 0;
  let extra = 0;
  const extras: number[] = new Array(p.depth.length).fill(0);
  for (let pos = 0; pos < p.length; pos++) {
    const r = rewrite(p, pos, env, depth, notes);
    if (r) {
      p.patch(pos, r.patch);
      pos += r.patch.length - 1;
      if (r.extra) extra = r.extra;
    }
    if (p.starts[cur + 1] === pos + 1) {
      p.depth[cur] = (p.depth[cur] ?? 0) + extra;
      extras[cur] = extra;
      cur++;
      depth = p.depth[cur] ?? 0;
      extra = 0;
    }
  }
  const timed = env.timedMayGoto ?? true;
  for (let f = 0; f < p.depth.length; f++) {
    if (!extras[f]) continue;
    const start = p.starts[f]!;
    const d = p.depth[f]!;
    const init = timed
      ? [slot(ST_DW, FP, 0, -d, BPF_MAX_TIMED_LOOPS), slot(ST_DW, FP, 0, -d + 8, 0)]
      : [slot(ST_DW, FP, 0, -d, BPF_MAX_LOOPS)];
    p.patch(start, [...init, { ...p.slots[start]! }]);
    p.adjustJmpOff(start, init.length);
  }
}

/** opt_subreg_zext_lo32_rnd_hi32 on x86-64: only a 32-bit cmpxchg (not an arena one) gets `w0 = w0`. */
export function insertCmpxchgZext(p: SlotProgram): void {
  for (let pos = 0; pos < p.length; pos++) {
    const s = p.slots[pos]!;
    if (!p.aux[pos]!.zext) continue;
    const isCmpxchg = (s.code & 7) === Class.STX && (s.code & 0xe0) === Mode.ATOMIC && s.imm === AtomicOp.CMPXCHG;
    if (!isCmpxchg) continue;
    p.patch(pos, [{ ...s }, slot(Class.ALU | AluOp.MOV | Src.X, 0, 0, 0, 1)]);
    pos++;
  }
}

