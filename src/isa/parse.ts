// Assembler for the kernel's verifier-log syntax (what printInsn/printProgram write), with labels.
//   - one instruction per line; `;` and `//` start comments; `name:` defines a label (alone or before an insn)
//   - an optional verifier-log prefix `N: (op) ` is accepted; (op) must match the instruction's opcode
//   - jump/call targets: `pc+N`, `pc-N`, `+N`, `-N` (slots, relative to the next instruction) or a label
//   - numbers: decimal or 0x hex, optionally signed
//   - `rN = 0x...` (hex) or `rN = NUM ll` is ld_imm64; `rN = NUM` (decimal) is mov (the kernel log's own split)
//   - `call NAME#N`: NAME `unknown` or a helper name (bpf_*) is a helper call (src 0), any other NAME
//     (e.g. `kernel-function`, a kfunc name) a kfunc call (src 2); imm is N. `call NAME` = helper by name.
//   - the extra forms documented in print.ts (map[fd:N], __arena, zext, callx, .insn) parse back exactly.
// The conformance-suite syntax is in parse-conformance.ts; `parse(text, {syntax})` picks one.

import type { Program } from './insn.js';
import { AluOp, AtomicOp, Class, JmpOp, LD_IMM64, Mode, MovOff, PseudoCall, Size, Src } from './opcodes.js';
import { helperId } from './helpers.js';
import { assembleLines, fail, imm32, imm64Fields, isLabelName, off16, relative, parseNumber, type PendingInsn, type TargetField } from './asm-common.js';
import { parseConformance } from './parse-conformance.js';

export type AsmSyntax = 'kernel' | 'conformance';

export interface ParseOptions {
  /** 'kernel' (default): the verifier-log syntax; 'conformance': the bpf_conformance test assembler syntax. */
  readonly syntax?: AsmSyntax;
}

/** Assembles text into a program; throws BpfError listing every bad line as `line N: reason`. */
export function parse(text: string, opts: ParseOptions = {}): Program {
  return (opts.syntax ?? 'kernel') === 'conformance' ? parseConformance(text) : parseKernel(text);
}

export function parseKernel(text: string): Program {
  return assembleLines(text, stripComment, parseKernelLine);
}

function stripComment(line: string): string {
  const a = line.indexOf(';');
  const b = line.indexOf('//');
  const cut = a < 0 ? b : b < 0 ? a : Math.min(a, b);
  return cut < 0 ? line : line.slice(0, cut);
}

type Fields = PendingInsn['fields'];

function insn(code: number, dst = 0, src = 0, off = 0, imm = 0): Fields {
  return { code, dst, src, off, imm };
}

function regNum(text: string): number {
  const n = Number(text);
  if (!/^\d{1,2}$/.test(text) || n > 15) fail(`register r${text} does not exist`);
  return n;
}

const SIZES: Readonly<Record<string, number>> = { 8: Size.B, 16: Size.H, 32: Size.W, 64: Size.DW };

const MEM = (p: string): string =>
  String.raw`\(\s*(?<${p}t>[us](?:8|16|32|64))(?<${p}a>\s+__(?:arena|probe))?\s*\*\s*\)\s*\(\s*r(?<${p}r>\d+)\s*(?:(?<${p}s>[+-])\s*(?<${p}o>0x[0-9a-fA-F]+|\d+))?\s*\)`;

interface MemOperand {
  size: number;
  signed: boolean;
  /** `__arena`: a PROBE_MEM32* / PROBE_ATOMIC mode. */
  arena: boolean;
  /** `__probe`: LDX PROBE_MEM / PROBE_MEMSX. */
  probe: boolean;
  reg: number;
  off: number;
}

function memOperand(g: Record<string, string | undefined>, p = 'm'): MemOperand {
  const t = g[`${p}t`]!;
  const signed = t[0] === 's';
  const bits = t.slice(1);
  if (signed && bits === '64') fail(`type s64 does not exist for a memory access (use u64)`);
  const off = g[`${p}o`] === undefined ? 0 : off16(`${g[`${p}s`]}${g[`${p}o`]}`);
  const tag = g[`${p}a`]?.trim();
  return { size: SIZES[bits]!, signed, arena: tag === '__arena', probe: tag === '__probe', reg: regNum(g[`${p}r`]!), off };
}

function unsignedMem(m: MemOperand, what: string): void {
  if (m.signed) fail(`${what} takes an unsigned type (u8/u16/u32/u64)`);
  if (m.probe) fail(`__probe is only for loads (r0 = *(u64 __probe *)(r1 +0)); ${what} through an arena pointer uses __arena`);
}

const RE = {
  store: new RegExp(String.raw`^\*\s*${MEM('m')}\s*=\s*(?<v>\S+)$`),
  lock: new RegExp(String.raw`^lock\s+\*\s*${MEM('m')}\s*(?<op>[+&|^])=\s*r(?<s>\d+)$`),
  load: new RegExp(String.raw`^r(?<d>\d+)\s*=\s*\*\s*${MEM('m')}$`),
  atomic: new RegExp(String.raw`^r(?<d>\d+)\s*=\s*atomic(?<b>64)?_(?<f>fetch_(?:add|and|or|xor)|xchg|cmpxchg)\s*\(\s*${MEM('m')}\s*,\s*r(?<a1>\d+)\s*(?:,\s*r(?<a2>\d+)\s*)?\)$`),
  loadAcq: new RegExp(String.raw`^r(?<d>\d+)\s*=\s*load_acquire\s*\(\s*${MEM('m')}\s*\)$`),
  storeRel: new RegExp(String.raw`^store_release\s*\(\s*${MEM('m')}\s*,\s*r(?<s>\d+)\s*\)$`),
  skb: /^r0\s*=\s*\*\s*\(\s*(?<t>u8|u16|u32)\s*\*\s*\)\s*skb\s*\[\s*(?:r(?<s>\d+)\s*\+\s*)?(?<k>[^\]]+?)\s*\]$/,
  asc: /^r(\d+)\s*=\s*addr_space_cast\s*\(\s*r(\d+)\s*,\s*(\w+)\s*,\s*(\w+)\s*\)$/,
  percpu: /^r(\d+)\s*=\s*&\s*\(\s*void\s+__percpu\s*\*\s*\)\s*\(\s*r(\d+)\s*\)$/,
  zext: /^w(\d+)\s*=\s*zext\s*\(\s*w(\d+)\s*\)$/,
  end: /^r(\d+)\s*=\s*(bswap|be|le)(16|32|64)\s+r(\d+)$/,
  neg: /^([rw])(\d+)\s*=\s*-\s*([rw])(\d+)$/,
  movsx: /^([rw])(\d+)\s*=\s*\(\s*s(8|16|32)\s*\)\s*([rw])(\d+)$/,
  pseudo: /^r(\d+)\s*=\s*(map\[(fd|idx):(\w+)\](?:(\[0\])?\+(\w+))?|btf_id\[(\w+)\](?:\[fd:(\w+)\])?|subprog\[([^\]]+)\])$/,
  alu: /^([rw])(\d+)\s*(s>>=|<<=|>>=|s\/=|s%=|\+=|-=|\*=|\/=|\|=|&=|%=|\^=|=)\s*([^=].*)$/,
  cond: /^if\s+([rw])(\d+)\s*(==|!=|s>=|s<=|s>|s<|>=|<=|>|<|&)\s*(\S+)\s+goto\s+(\S+)$/,
  jump: /^(goto|gotol|may_goto)\s+(\S+)$/,
  call: /^call\s+(\S+)$/,
  callx: /^callx\s+r(\d+)$/,
  raw: /^\.insn\s+(.*)$/,
  prefix: /^(\d+):\s*\(([0-9a-fA-F]{2})\)\s*/,
} as const;

const ALU_BY_SYM: Readonly<Record<string, number>> = {
  '+=': AluOp.ADD, '-=': AluOp.SUB, '*=': AluOp.MUL, '/=': AluOp.DIV, 's/=': AluOp.DIV, '|=': AluOp.OR,
  '&=': AluOp.AND, '<<=': AluOp.LSH, '>>=': AluOp.RSH, '%=': AluOp.MOD, 's%=': AluOp.MOD, '^=': AluOp.XOR,
  '=': AluOp.MOV, 's>>=': AluOp.ARSH,
};
const JMP_BY_SYM: Readonly<Record<string, number>> = {
  '==': JmpOp.JEQ, '>': JmpOp.JGT, '>=': JmpOp.JGE, '&': JmpOp.JSET, '!=': JmpOp.JNE, 's>': JmpOp.JSGT,
  's>=': JmpOp.JSGE, '<': JmpOp.JLT, '<=': JmpOp.JLE, 's<': JmpOp.JSLT, 's<=': JmpOp.JSLE,
};
const LOCK_OPS: Readonly<Record<string, number>> = { '+': AtomicOp.ADD, '&': AtomicOp.AND, '|': AtomicOp.OR, '^': AtomicOp.XOR };
const FETCH_OPS: Readonly<Record<string, number>> = {
  fetch_add: AtomicOp.ADD | AtomicOp.FETCH, fetch_and: AtomicOp.AND | AtomicOp.FETCH,
  fetch_or: AtomicOp.OR | AtomicOp.FETCH, fetch_xor: AtomicOp.XOR | AtomicOp.FETCH, xchg: AtomicOp.XCHG, cmpxchg: AtomicOp.CMPXCHG,
};

/** A relative target (`pc+N`, `+N`, `-N`) as a number, or a label name. */
function target(text: string, field: TargetField): { value: number } | { label: string } {
  const t = text.startsWith('pc') && /^pc[+-]/.test(text) ? text.slice(2) : text;
  if (/^[+-]/.test(t)) return { value: relative(t, field) };
  if (isLabelName(text)) return { label: text };
  return fail(`expected a jump target (pc+N, +N, -N or a label), got '${text}'`);
}

function withTarget(fields: Fields, text: string, field: TargetField, line: number): PendingInsn {
  const t = target(text, field);
  if ('value' in t) {
    fields[field] = t.value;
    return { fields, line };
  }
  return { fields, line, label: { name: t.label, field } };
}

function parseKernelLine(text: string, line: number): PendingInsn {
  const pre = RE.prefix.exec(text);
  const body = pre ? text.slice(pre[0].length).trim() : text;
  const p = parseBody(body.replace(/\s+/g, ' '), line);
  if (pre && p.fields.code !== parseInt(pre[2]!, 16)) {
    fail(`opcode (${pre[2]}) does not match the instruction, which encodes as (${p.fields.code.toString(16).padStart(2, '0')})`);
  }
  return p;
}

function parseBody(s: string, line: number): PendingInsn {
  let m: RegExpExecArray | null;
  const one = (fields: Fields): PendingInsn => ({ fields, line });
  if (s === 'exit') return one(insn(Class.JMP | JmpOp.EXIT));
  if (s === 'nospec') return one(insn(Class.ST | Mode.NOSPEC));
  if ((m = /^tail_call(?:#(\S+))?$/.exec(s))) return one(insn(Class.JMP | JmpOp.TAIL_CALL, 0, 0, 0, m[1] === undefined ? 0 : imm32(m[1])));
  if ((m = RE.raw.exec(s))) return one(rawFields(m[1]!));
  if ((m = RE.jump.exec(s))) {
    if (m[1] === 'gotol') return withTarget(insn(Class.JMP32 | JmpOp.JA), m[2]!, 'imm', line);
    return withTarget(insn(Class.JMP | (m[1] === 'goto' ? JmpOp.JA : JmpOp.JCOND)), m[2]!, 'off', line);
  }
  if ((m = RE.callx.exec(s))) return one(insn(Class.JMP | JmpOp.CALL | Src.X, regNum(m[1]!)));
  if ((m = RE.call.exec(s))) return parseCall(m[1]!, line);
  if ((m = RE.cond.exec(s))) {
    const is32 = m[1] === 'w';
    const cls = is32 ? Class.JMP32 : Class.JMP;
    const operand = m[4]!;
    const f = /^[rw]\d+$/.test(operand)
      ? insn(cls | JMP_BY_SYM[m[3]!]! | Src.X, regNum(m[2]!), sameWidth(operand, m[1]!))
      : insn(cls | JMP_BY_SYM[m[3]!]!, regNum(m[2]!), 0, 0, imm32(operand));
    return withTarget(f, m[5]!, 'off', line);
  }
  if (s.startsWith('*') || s.startsWith('lock') || s.startsWith('store_release')) return one(parseStore(s));
  if ((m = RE.load.exec(s))) {
    const mem = memOperand(m.groups!);
    const mode = mem.signed
      ? mem.arena ? Mode.PROBE_MEM32SX : mem.probe ? Mode.PROBE_MEMSX : Mode.MEMSX
      : mem.arena ? Mode.PROBE_MEM32 : mem.probe ? Mode.PROBE_MEM : Mode.MEM;
    return one(insn(Class.LDX | mem.size | mode, regNum(m.groups!.d!), mem.reg, mem.off));
  }
  if ((m = RE.atomic.exec(s)) || (m = RE.loadAcq.exec(s))) return one(parseAtomicCall(m.groups!));
  if ((m = RE.skb.exec(s))) {
    const g = m.groups!;
    const size = SIZES[g.t!.slice(1)]!;
    return one(g.s === undefined ? insn(Class.LD | size | Mode.ABS, 0, 0, 0, imm32(g.k!)) : insn(Class.LD | size | Mode.IND, 0, regNum(g.s), 0, imm32(g.k!)));
  }
  if ((m = RE.asc.exec(s))) {
    const dstAs = Number(parseNumber(m[3]!) ?? fail(`bad address space '${m[3]}'`));
    const srcAs = Number(parseNumber(m[4]!) ?? fail(`bad address space '${m[4]}'`));
    if (dstAs < 0 || dstAs > 0xffff || srcAs < 0 || srcAs > 0xffff) fail('address spaces are 16-bit numbers');
    return one(insn(Class.ALU64 | AluOp.MOV | Src.X, regNum(m[1]!), regNum(m[2]!), MovOff.ADDR_SPACE_CAST, ((dstAs << 16) | srcAs) | 0));
  }
  if ((m = RE.percpu.exec(s))) return one(insn(Class.ALU64 | AluOp.MOV | Src.X, regNum(m[1]!), regNum(m[2]!), MovOff.PERCPU));
  if ((m = RE.zext.exec(s))) return one(insn(Class.ALU | AluOp.MOV | Src.X, regNum(m[1]!), regNum(m[2]!), 0, 1));
  if ((m = RE.end.exec(s))) {
    if (m[1] !== m[4]) fail(`byte swap works in place: write r${m[1]} = ${m[2]}${m[3]} r${m[1]}`);
    const code = m[2] === 'bswap' ? Class.ALU64 | AluOp.END : Class.ALU | AluOp.END | (m[2] === 'be' ? Src.X : Src.K);
    return one(insn(code, regNum(m[1]!), 0, 0, Number(m[3])));
  }
  if ((m = RE.neg.exec(s))) {
    if (m[1] !== m[3] || m[2] !== m[4]) fail(`neg works in place: write ${m[1]}${m[2]} = -${m[1]}${m[2]}`);
    return one(insn((m[1] === 'w' ? Class.ALU : Class.ALU64) | AluOp.NEG, regNum(m[2]!)));
  }
  if ((m = RE.movsx.exec(s))) {
    if (m[1] !== m[4]) fail('movsx takes two registers of the same width (r/r or w/w)');
    if (m[1] === 'w' && m[3] === '32') fail('(s32) needs 64-bit registers');
    return one(insn((m[1] === 'w' ? Class.ALU : Class.ALU64) | AluOp.MOV | Src.X, regNum(m[2]!), regNum(m[5]!), Number(m[3])));
  }
  if ((m = RE.pseudo.exec(s))) return parsePseudo(m, line);
  if ((m = RE.alu.exec(s))) return one(parseAlu(m[1]!, m[2]!, m[3]!, m[4]!.trim()));
  return fail(`cannot parse instruction '${s}'`);
}

function sameWidth(operand: string, width: string): number {
  if (operand[0] !== width) fail(`mixing ${width}N and ${operand[0]}N registers in one instruction`);
  return regNum(operand.slice(1));
}

function parseAlu(w: string, dstText: string, sym: string, operand: string): Fields {
  const dst = regNum(dstText);
  const op = ALU_BY_SYM[sym]!;
  const signedDiv = sym === 's/=' || sym === 's%=' ? 1 : 0;
  if (/^[rw]\d+$/.test(operand)) {
    return insn((w === 'w' ? Class.ALU : Class.ALU64) | op | Src.X, dst, sameWidth(operand, w), signedDiv);
  }
  const ll = /^(\S+)\s+ll$/.exec(operand);
  if (w === 'r' && op === AluOp.MOV && (ll || /^-?0x/i.test(operand))) {
    const { imm, imm2 } = imm64Fields(ll ? ll[1]! : operand);
    return { code: LD_IMM64, dst, src: 0, off: 0, imm, imm2 };
  }
  return insn((w === 'w' ? Class.ALU : Class.ALU64) | op, dst, 0, signedDiv, imm32(operand));
}

function parseStore(s: string): Fields {
  let m: RegExpExecArray | null;
  if ((m = RE.lock.exec(s))) {
    const mem = memOperand(m.groups!);
    unsignedMem(mem, 'lock');
    return insn(Class.STX | mem.size | (mem.arena ? Mode.PROBE_ATOMIC : Mode.ATOMIC), mem.reg, regNum(m.groups!.s!), mem.off, LOCK_OPS[m.groups!.op!]!);
  }
  if ((m = RE.storeRel.exec(s))) {
    const mem = memOperand(m.groups!);
    unsignedMem(mem, 'store_release');
    return insn(Class.STX | mem.size | (mem.arena ? Mode.PROBE_ATOMIC : Mode.ATOMIC), mem.reg, regNum(m.groups!.s!), mem.off, AtomicOp.STORE_REL);
  }
  if ((m = RE.store.exec(s))) {
    const mem = memOperand(m.groups!);
    unsignedMem(mem, 'a store');
    const mode = mem.arena ? Mode.PROBE_MEM32 : Mode.MEM;
    const v = m.groups!.v!;
    if (/^r\d+$/.test(v)) return insn(Class.STX | mem.size | mode, mem.reg, regNum(v.slice(1)), mem.off);
    return insn(Class.ST | mem.size | mode, mem.reg, 0, mem.off, imm32(v));
  }
  return fail(`cannot parse store '${s}'`);
}

function parseAtomicCall(g: Record<string, string | undefined>): Fields {
  const mem = memOperand(g);
  unsignedMem(mem, 'an atomic operation');
  const mode = mem.arena ? Mode.PROBE_ATOMIC : Mode.ATOMIC;
  const d = regNum(g.d!);
  if (g.f === undefined) return insn(Class.STX | mem.size | mode, d, mem.reg, mem.off, AtomicOp.LOAD_ACQ);
  if ((g.b === '64') !== (mem.size === Size.DW)) fail(`atomic${g.b ?? ''}_${g.f} does not match the access size (atomic64_* is u64, atomic_* is u32)`);
  const imm = FETCH_OPS[g.f]!;
  if (imm === AtomicOp.CMPXCHG) {
    if (d !== 0 || regNum(g.a1!) !== 0 || g.a2 === undefined) fail('cmpxchg is written r0 = atomic_cmpxchg((u32 *)(rD +off), r0, rS)');
    return insn(Class.STX | mem.size | mode, mem.reg, regNum(g.a2), mem.off, imm);
  }
  if (g.a2 !== undefined || regNum(g.a1!) !== d) fail(`${g.f} returns into its source register: write r${g.a1} = atomic_${g.f}(..., r${g.a1})`);
  return insn(Class.STX | mem.size | mode, mem.reg, d, mem.off, imm);
}

function parseCall(t: string, line: number): PendingInsn {
  const named = /^([\w.$-]+)#([+-]?(?:0x[0-9a-fA-F]+|\d+))$/.exec(t);
  if (named) {
    const name = named[1]!;
    const src = name === 'unknown' || helperId(name) !== undefined ? PseudoCall.HELPER : PseudoCall.KFUNC;
    return { fields: insn(Class.JMP | JmpOp.CALL, 0, src, 0, imm32(named[2]!)), line };
  }
  const id = helperId(t);
  if (id !== undefined) return { fields: insn(Class.JMP | JmpOp.CALL, 0, PseudoCall.HELPER, 0, id), line };
  return withTarget(insn(Class.JMP | JmpOp.CALL, 0, PseudoCall.CALL), t, 'imm', line);
}

function parsePseudo(m: RegExpExecArray, line: number): PendingInsn {
  const dst = regNum(m[1]!);
  const ld = (src: number, imm: number, imm2 = 0): PendingInsn => ({ fields: { code: LD_IMM64, dst, src, off: 0, imm, imm2 }, line });
  if (m[3] !== undefined) {
    const idx = m[3] === 'idx';
    const n = imm32(m[4]!, 'map number');
    if (m[6] === undefined) return ld(idx ? 5 : 1, n);
    if (idx === (m[5] !== undefined)) fail(idx ? 'write map[idx:N]+OFF' : 'write map[fd:N][0]+OFF');
    return ld(idx ? 6 : 2, n, imm32(m[6], 'map value offset'));
  }
  if (m[7] !== undefined) return ld(3, imm32(m[7], 'BTF id'), m[8] === undefined ? 0 : imm32(m[8], 'BTF fd'));
  const p = withTarget({ code: LD_IMM64, dst, src: 4, off: 0, imm: 0, imm2: 0 }, m[9]!.trim(), 'imm', line);
  return p;
}

function rawFields(text: string): Fields {
  const f: Record<string, number> = {};
  for (const part of text.trim().split(/\s+/)) {
    const kv = /^(code|dst|src|off|imm|imm2)=(\S+)$/.exec(part);
    if (!kv) fail(`.insn expects code= dst= src= off= imm= [imm2=], got '${part}'`);
    const [, k, v] = kv;
    if (k! in f) fail(`.insn field ${k} given twice`);
    if (k === 'code' || k === 'dst' || k === 'src') {
      const n = Number(parseNumber(v!) ?? fail(`bad .insn ${k} '${v}'`));
      if (n < 0 || n > (k === 'code' ? 255 : 15)) fail(`.insn ${k}=${v} is out of range`);
      f[k] = n;
    } else {
      f[k!] = k === 'off' ? off16(v!) : imm32(v!);
    }
  }
  if (f.code === undefined) fail('.insn needs code=');
  if (f.imm2 !== undefined && f.code !== LD_IMM64) fail('.insn imm2= is only for ld_imm64 (code=0x18)');
  const fields: Fields = { code: f.code, dst: f.dst ?? 0, src: f.src ?? 0, off: f.off ?? 0, imm: f.imm ?? 0 };
  if (f.code === LD_IMM64) fields.imm2 = f.imm2 ?? 0;
  return fields;
}
