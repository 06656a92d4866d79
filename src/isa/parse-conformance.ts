// Assembler for the syntax of the bpf_conformance suite's `-- asm` sections (Alan-Jowett/bpf_conformance,
// src/bpf_assembler.cc), which ubpf/rbpf/PREVAIL tests share:
//   mov32 %r0, 1   add %r0, %r1   sdiv32 %r0, 3   smod %r1, %r2   neg %r0   movsx1664 %r0, %r1
//   le16 %r0   be32 %r0   bswap64 %r0 (also swap64)   lddw %r0, 0x123456789abcdef0
//   ldxdw %r0, [%r1+8]   ldxsb %r0, [%r1]   stw [%r1+4], 7   stxdw [%r10-8], %r0
//   lock add [%r10-8], %r1   lock fetch xor32 [%r1], %r2   lock xchg ...   lock cmpxchg32 ...
//   ja L2   ja32 +5 (gotol)   jsgt32 %r1, %r2, +1   jeq %r1, 0x10, L1   exit
//   call 1 (helper)   call helper 1   call local func1   call runtime 7 (kfunc)   call %r2 (callx)
//   ldabsw 12   ldindh %r1, 4   (legacy packet loads, ubpf's mnemonics)
// Comments start with `#` or `;`; labels are `name:` (`exit` is the first exit unless defined). Numbers are
// decimal or 0x hex, possibly negative.

import type { Program } from './insn.js';
import { AluOp, AtomicOp, Class, JmpOp, LD_IMM64, Mode, PseudoCall, Size, Src } from './opcodes.js';
import { assembleLines, fail, imm32, imm64Fields, isLabelName, off16, relative, type PendingInsn, type TargetField } from './asm-common.js';

type Fields = PendingInsn['fields'];

const ALU: Readonly<Record<string, number>> = {
  add: AluOp.ADD, sub: AluOp.SUB, mul: AluOp.MUL, div: AluOp.DIV, sdiv: AluOp.DIV, or: AluOp.OR, and: AluOp.AND,
  lsh: AluOp.LSH, rsh: AluOp.RSH, mod: AluOp.MOD, smod: AluOp.MOD, xor: AluOp.XOR, mov: AluOp.MOV, arsh: AluOp.ARSH,
};
const JMP: Readonly<Record<string, number>> = {
  jeq: JmpOp.JEQ, jgt: JmpOp.JGT, jge: JmpOp.JGE, jset: JmpOp.JSET, jne: JmpOp.JNE, jsgt: JmpOp.JSGT, jsge: JmpOp.JSGE,
  jlt: JmpOp.JLT, jle: JmpOp.JLE, jslt: JmpOp.JSLT, jsle: JmpOp.JSLE,
};
const SIZE: Readonly<Record<string, number>> = { b: Size.B, h: Size.H, w: Size.W, dw: Size.DW };
const ATOMIC: Readonly<Record<string, number>> = {
  add: AtomicOp.ADD, and: AtomicOp.AND, or: AtomicOp.OR, xor: AtomicOp.XOR, xchg: AtomicOp.XCHG, cmpxchg: AtomicOp.CMPXCHG,
};

export function parseConformance(text: string): Program {
  return assembleLines(text, (l) => l.replace(/[#;].*$/, ''), parseLine, firstExitLabel);
}

/** Like the suite's assembler, `exit` names the first exit instruction unless a label says otherwise. */
function firstExitLabel(pending: readonly PendingInsn[]): ReadonlyMap<string, number> {
  const i = pending.findIndex((p) => p.fields.code === (Class.JMP | JmpOp.EXIT));
  return new Map(i < 0 ? [] : [['exit', i]]);
}

function reg(text: string | undefined): number {
  const m = /^%?r(\d{1,2})$/.exec(text ?? '');
  if (!m || Number(m[1]) > 15) fail(`expected a register %r0..%r10, got '${text ?? ''}'`);
  return Number(m[1]);
}

/** Registers are written `%r1` in the suite's docs and `r1` in some of its files: both are accepted. */
function isReg(text: string): boolean {
  return /^%?r\d{1,2}$/.test(text);
}

/** `[%rN]`, `[%rN+8]`, `[rN-0x10]` */
function mem(text: string | undefined): { reg: number; off: number } {
  const m = /^\[\s*(%?r\d+)\s*(?:([+-])\s*(\w+))?\s*\]$/.exec(text ?? '');
  if (!m) fail(`expected a memory operand like [%r1+8], got '${text ?? ''}'`);
  return { reg: reg(m[1]), off: m[3] === undefined ? 0 : off16(`${m[2]}${m[3]}`) };
}

function count(ops: readonly string[], n: number, mnemonic: string): void {
  if (ops.length !== n) fail(`${mnemonic} takes ${n} operand${n === 1 ? '' : 's'}, got ${ops.length}`);
}

function withTarget(fields: Fields, text: string, field: TargetField, line: number): PendingInsn {
  if (/^[+-]/.test(text)) {
    fields[field] = relative(text, field);
    return { fields, line };
  }
  if (!isLabelName(text)) fail(`expected a jump target (+N, -N or a label), got '${text}'`);
  return { fields, line, label: { name: text, field } };
}

function f(code: number, dst = 0, src = 0, off = 0, imm = 0): Fields {
  return { code, dst, src, off, imm };
}

function parseLine(text: string, line: number): PendingInsn {
  const sp = text.search(/\s/);
  const mnemonic = (sp < 0 ? text : text.slice(0, sp)).toLowerCase();
  const rest = sp < 0 ? '' : text.slice(sp + 1).trim();
  const ops = rest === '' ? [] : rest.split(',').map((s) => s.trim());
  const one = (fields: Fields): PendingInsn => ({ fields, line });
  let m: RegExpExecArray | null;

  if (mnemonic === 'exit') return count(ops, 0, mnemonic), one(f(Class.JMP | JmpOp.EXIT));
  if (mnemonic === 'lock') return one(parseLock(rest));
  if (mnemonic === 'call') return parseCall(rest, line);
  if (mnemonic === 'ja' || mnemonic === 'ja32') {
    count(ops, 1, mnemonic);
    return mnemonic === 'ja' ? withTarget(f(Class.JMP | JmpOp.JA), ops[0]!, 'off', line) : withTarget(f(Class.JMP32 | JmpOp.JA), ops[0]!, 'imm', line);
  }
  if (mnemonic === 'lddw') {
    count(ops, 2, mnemonic);
    return one({ code: LD_IMM64, dst: reg(ops[0]), src: 0, off: 0, ...imm64Fields(ops[1]!) });
  }
  if ((m = /^(le|be|bswap|swap)(16|32|64)$/.exec(mnemonic))) {
    count(ops, 1, mnemonic);
    const code = m[1] === 'le' ? Class.ALU | AluOp.END : m[1] === 'be' ? Class.ALU | AluOp.END | Src.X : Class.ALU64 | AluOp.END;
    return one(f(code, reg(ops[0]), 0, 0, Number(m[2])));
  }
  if ((m = /^ldx(s?)(b|h|w|dw)$/.exec(mnemonic))) {
    count(ops, 2, mnemonic);
    if (m[1] === 's' && m[2] === 'dw') fail('ldxsdw does not exist (a 64-bit load needs no sign extension)');
    const a = mem(ops[1]);
    return one(f(Class.LDX | SIZE[m[2]!]! | (m[1] ? Mode.MEMSX : Mode.MEM), reg(ops[0]), a.reg, a.off));
  }
  if ((m = /^st(x?)(b|h|w|dw)$/.exec(mnemonic))) {
    count(ops, 2, mnemonic);
    const a = mem(ops[0]);
    if (m[1]) return one(f(Class.STX | SIZE[m[2]!]! | Mode.MEM, a.reg, reg(ops[1]), a.off));
    return one(f(Class.ST | SIZE[m[2]!]! | Mode.MEM, a.reg, 0, a.off, imm32(ops[1]!)));
  }
  if ((m = /^ld(abs|ind)(b|h|w)$/.exec(mnemonic))) {
    if (m[1] === 'abs') return count(ops, 1, mnemonic), one(f(Class.LD | SIZE[m[2]!]! | Mode.ABS, 0, 0, 0, imm32(ops[0]!)));
    count(ops, 2, mnemonic);
    return one(f(Class.LD | SIZE[m[2]!]! | Mode.IND, 0, reg(ops[0]), 0, imm32(ops[1]!)));
  }
  if ((m = /^movsx(8|16|32)(32|64)$/.exec(mnemonic))) {
    count(ops, 2, mnemonic);
    if (m[2] === '32' && m[1] === '32') fail('movsx3232 does not exist');
    return one(f((m[2] === '32' ? Class.ALU : Class.ALU64) | AluOp.MOV | Src.X, reg(ops[0]), reg(ops[1]), Number(m[1])));
  }
  if ((m = /^neg(32|64)?$/.exec(mnemonic))) {
    count(ops, 1, mnemonic);
    return one(f((m[1] === '32' ? Class.ALU : Class.ALU64) | AluOp.NEG, reg(ops[0])));
  }
  if ((m = /^([a-z]+?)(32|64)?$/.exec(mnemonic)) && ALU[m[1]!] !== undefined) {
    count(ops, 2, mnemonic);
    const cls = m[2] === '32' ? Class.ALU : Class.ALU64;
    const off = m[1] === 'sdiv' || m[1] === 'smod' ? 1 : 0;
    const op = ALU[m[1]!]!;
    if (isReg(ops[1]!)) return one(f(cls | op | Src.X, reg(ops[0]), reg(ops[1]), off));
    return one(f(cls | op, reg(ops[0]), 0, off, imm32(ops[1]!)));
  }
  if ((m = /^([a-z]+?)(32)?$/.exec(mnemonic)) && JMP[m[1]!] !== undefined) {
    count(ops, 3, mnemonic);
    const cls = m[2] ? Class.JMP32 : Class.JMP;
    const op = JMP[m[1]!]!;
    const fields = isReg(ops[1]!) ? f(cls | op | Src.X, reg(ops[0]), reg(ops[1])) : f(cls | op, reg(ops[0]), 0, 0, imm32(ops[1]!));
    return withTarget(fields, ops[2]!, 'off', line);
  }
  return fail(`unknown mnemonic '${mnemonic}'`);
}

/** `lock [fetch] OP[32] [%rD+off], %rS` */
function parseLock(rest: string): Fields {
  const m = /^(fetch\s+)?([a-z]+?)(32)?\s+(\[[^\]]*\])\s*,\s*(\S+)$/.exec(rest);
  if (!m || ATOMIC[m[2]!] === undefined) fail(`expected lock [fetch] add|and|or|xor|xchg|cmpxchg[32] [%rD+off], %rS, got 'lock ${rest}'`);
  let imm = ATOMIC[m[2]!]!;
  if (m[1]) {
    if (imm === AtomicOp.XCHG || imm === AtomicOp.CMPXCHG) fail(`${m[2]} always fetches; write lock ${m[2]}`);
    imm |= AtomicOp.FETCH;
  }
  const a = mem(m[4]);
  return f(Class.STX | (m[3] ? Size.W : Size.DW) | Mode.ATOMIC, a.reg, reg(m[5]), a.off, imm);
}

/** `call N` / `call helper N` / `call local TARGET` / `call runtime N` / `call %rN` */
function parseCall(rest: string, line: number): PendingInsn {
  const parts = rest.split(/\s+/).filter((s) => s !== '');
  const [mode, target] = parts.length === 1 ? ['helper', parts[0]!] : [parts[0], parts[1]];
  if (parts.length === 0 || parts.length > 2 || target === undefined) fail(`expected call [helper|local|runtime] TARGET, got 'call ${rest}'`);
  const call = Class.JMP | JmpOp.CALL;
  if (mode === 'helper') {
    if (isReg(target)) return { fields: f(call | Src.X, reg(target)), line };
    return { fields: f(call, 0, PseudoCall.HELPER, 0, imm32(target)), line };
  }
  if (mode === 'local') return withTarget(f(call, 0, PseudoCall.CALL), target, 'imm', line);
  if (mode === 'runtime') return { fields: f(call, 0, PseudoCall.KFUNC, 0, imm32(target)), line };
  return fail(`unknown call kind '${mode}' (helper, local or runtime)`);
}
