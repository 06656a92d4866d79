// Instruction text in the syntax of the kernel's verifier log (kernel/bpf/disasm.c), plus readable forms
// for what the kernel prints ambiguously or not at all (documented in docs of parse.ts and README):
//   ld_imm64 references  map[fd:N]  map[fd:N][0]+OFF  btf_id[N]  btf_id[N][fd:M]  subprog[+N]  map[idx:N]  map[idx:N]+OFF
//   arena accesses       *(u64 __arena *)(r1 +8)  (PROBE_MEM32 / PROBE_MEM32SX / PROBE_ATOMIC)
//   faulting loads       r0 = *(u64 __probe *)(r1 +8)  (LDX PROBE_MEM / PROBE_MEMSX: BTF pointers)
//   zero-extension mark  w0 = zext(w0)   (BPF_ZEXT_REG: mov32 with imm 1)
//   indirect call        callx r2       (LLVM's syntax; the register is in dst_reg)
//   tail call            tail_call, tail_call#N  (BPF_JMP | BPF_TAIL_CALL after the verifier; N = poke index + 1)
//   anything else        .insn code=0x.. dst=N src=N off=N imm=N [imm2=N]  (exact fields, always parses back)

import type { Dialect, Insn, Program } from './insn.js';
import { AluOp, AtomicOp, Class, JmpOp, LD_IMM64, Mode, MovOff, PseudoCall, Size, Src } from './opcodes.js';
import { helperName } from './helpers.js';

export interface PrintOptions {
  /**
   * 'standard' (default) names helper calls by id (`call bpf_map_lookup_elem#1`); 'kernel-xlated' does not,
   * because there a helper call's imm is an address offset (`call unknown#-123456`).
   */
  readonly dialect?: Dialect;
  /** Name for a helper (src_reg 0) or kfunc (src_reg 2) call; undefined falls back to the default text. */
  readonly callName?: (insn: Insn) => string | undefined;
  /** Value to print for an ld_imm64 (like the kernel prints a resolved map pointer); undefined = default. */
  readonly ldImm64Value?: (insn: Insn) => bigint | undefined;
}

const ALU_OPS: readonly (string | undefined)[] = [
  '+=', '-=', '*=', '/=', '|=', '&=', '<<=', '>>=', undefined, '%=', '^=', '=', 's>>=', undefined, undefined, undefined,
];
const JMP_OPS: readonly (string | undefined)[] = [
  undefined, '==', '>', '>=', '&', '!=', 's>', 's>=', undefined, undefined, '<', '<=', 's<', 's<=', undefined, undefined,
];
const USIZE: Readonly<Record<number, string>> = { [Size.W]: 'u32', [Size.H]: 'u16', [Size.B]: 'u8', [Size.DW]: 'u64' };
const SSIZE: Readonly<Record<number, string>> = { [Size.W]: 's32', [Size.H]: 's16', [Size.B]: 's8' };
const ATOMIC_NAMES: Readonly<Record<number, string>> = {
  [AtomicOp.ADD]: 'add', [AtomicOp.AND]: 'and', [AtomicOp.OR]: 'or', [AtomicOp.XOR]: 'xor',
};

/** `%+d` */
function signed(n: number): string {
  return n < 0 ? `${n}` : `+${n}`;
}

function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/** The exact-fields form; parses back to the same bytes whatever the instruction is. */
export function rawText(insn: Insn): string {
  const base = `.insn code=0x${insn.code.toString(16).padStart(2, '0')} dst=${insn.dst} src=${insn.src} off=${insn.off} imm=${insn.imm}`;
  return insn.code === LD_IMM64 ? `${base} imm2=${insn.imm2 ?? 0}` : base;
}

/** Text of one instruction, without the `N: (op) ` prefix of the verifier log. */
export function printInsn(insn: Insn, opts: PrintOptions = {}): string {
  return textOf(insn, opts) ?? rawText(insn);
}

/** One verifier-log line: `N: (op) text`. */
export function formatInsnLine(insn: Insn, opts: PrintOptions = {}): string {
  return `${insn.pc}: (${insn.code.toString(16).padStart(2, '0')}) ${printInsn(insn, opts)}`;
}

/** The whole program as verifier-log lines, one per instruction, each ending in a newline. */
export function printProgram(prog: Program, opts: PrintOptions = {}): string {
  const parts: string[] = new Array<string>(prog.insns.length);
  for (let i = 0; i < prog.insns.length; i++) parts[i] = formatInsnLine(prog.insns[i]!, opts);
  return parts.length === 0 ? '' : `${parts.join('\n')}\n`;
}

function textOf(insn: Insn, opts: PrintOptions): string | undefined {
  switch (insn.code & 0x07) {
    case Class.ALU:
    case Class.ALU64:
      return aluText(insn);
    case Class.JMP:
    case Class.JMP32:
      return jmpText(insn, opts);
    case Class.LD:
      return ldText(insn, opts);
    case Class.LDX:
      return ldxText(insn);
    case Class.ST:
      return stText(insn);
    default:
      return stxText(insn);
  }
}

function aluText(insn: Insn): string | undefined {
  const { code, dst, src, off, imm } = insn;
  const is64 = (code & 0x07) === Class.ALU64;
  const r = is64 ? 'r' : 'w';
  const op = code & 0xf0;
  const x = (code & Src.X) !== 0;
  if (op === AluOp.NEG) return !x && src === 0 && off === 0 && imm === 0 ? `${r}${dst} = -${r}${dst}` : undefined;
  if (op === AluOp.END) {
    if (src !== 0 || off !== 0 || (imm !== 16 && imm !== 32 && imm !== 64)) return undefined;
    if (is64) return x ? undefined : `r${dst} = bswap${imm} r${dst}`;
    return `r${dst} = ${x ? 'be' : 'le'}${imm} r${dst}`;
  }
  const sym = ALU_OPS[op >> 4];
  if (sym === undefined) return undefined;
  const signedDiv = (op === AluOp.DIV || op === AluOp.MOD) && off === 1;
  const opText = signedDiv ? `s${sym}` : sym;
  if (!x) return src === 0 && (off === 0 || signedDiv) ? `${r}${dst} ${opText} ${imm}` : undefined;
  if (op === AluOp.MOV) {
    if (is64 && off === MovOff.ADDR_SPACE_CAST) return `r${dst} = addr_space_cast(r${src}, ${imm >>> 16}, ${imm & 0xffff})`;
    if (is64 && off === MovOff.PERCPU) return imm === 0 ? `r${dst} = &(void __percpu *)(r${src})` : undefined;
    if (off === 0 && imm === 1 && !is64) return `w${dst} = zext(w${src})`;
    if (imm !== 0) return undefined;
    if (off === 0) return `${r}${dst} = ${r}${src}`;
    if (off === 8 || off === 16 || (off === 32 && is64)) return `${r}${dst} = (s${off})${r}${src}`;
    return undefined;
  }
  if (imm !== 0 || !(off === 0 || signedDiv)) return undefined;
  return `${r}${dst} ${opText} ${r}${src}`;
}

function jmpText(insn: Insn, opts: PrintOptions): string | undefined {
  const { code, dst, src, off, imm } = insn;
  const is32 = (code & 0x07) === Class.JMP32;
  const op = code & 0xf0;
  const x = (code & Src.X) !== 0;
  if (code === (Class.JMP | JmpOp.JA)) return dst === 0 && src === 0 && imm === 0 ? `goto pc${signed(off)}` : undefined;
  if (code === (Class.JMP32 | JmpOp.JA)) return dst === 0 && src === 0 && off === 0 ? `gotol pc${signed(imm)}` : undefined;
  if (code === (Class.JMP | JmpOp.EXIT)) return dst === 0 && src === 0 && off === 0 && imm === 0 ? 'exit' : undefined;
  if (code === (Class.JMP | JmpOp.JCOND)) return dst === 0 && src === 0 && imm === 0 ? `may_goto pc${signed(off)}` : undefined;
  if (code === (Class.JMP | JmpOp.TAIL_CALL)) {
    if (dst !== 0 || src !== 0 || off !== 0) return undefined;
    return imm === 0 ? 'tail_call' : `tail_call#${imm}`;
  }
  if (code === (Class.JMP | JmpOp.CALL | Src.X)) return src === 0 && off === 0 && imm === 0 ? `callx r${dst}` : undefined;
  if (code === (Class.JMP | JmpOp.CALL)) {
    if (dst !== 0 || off !== 0) return undefined;
    if (src === PseudoCall.CALL) return `call pc${signed(imm)}`;
    if (src === PseudoCall.HELPER) {
      const name = opts.callName?.(insn) ?? ((opts.dialect ?? 'standard') === 'standard' ? helperName(imm) : undefined);
      return `call ${name ?? 'unknown'}#${imm}`;
    }
    if (src === PseudoCall.KFUNC) return `call ${opts.callName?.(insn) ?? 'kernel-function'}#${imm}`;
    return undefined;
  }
  const sym = JMP_OPS[op >> 4];
  if (sym === undefined) return undefined;
  const r = is32 ? 'w' : 'r';
  if (x) return imm === 0 ? `if ${r}${dst} ${sym} ${r}${src} goto pc${signed(off)}` : undefined;
  return src === 0 ? `if ${r}${dst} ${sym} ${hex(imm >>> 0)} goto pc${signed(off)}` : undefined;
}

function ldText(insn: Insn, opts: PrintOptions): string | undefined {
  const { code, dst, src, off, imm } = insn;
  const mode = code & 0xe0;
  const size = code & 0x18;
  if (code === LD_IMM64) {
    if (off !== 0) return undefined;
    const value = opts.ldImm64Value?.(insn);
    if (value !== undefined) return `r${dst} = ${hex(BigInt.asUintN(64, value))}`;
    const imm2 = insn.imm2 ?? 0;
    const u = imm >>> 0;
    const u2 = imm2 >>> 0;
    switch (src) {
      case 0:
        return `r${dst} = ${hex((BigInt(u2) << 32n) | BigInt(u))}`;
      case 1:
        return imm2 === 0 ? `r${dst} = map[fd:${u}]` : undefined;
      case 2:
        return `r${dst} = map[fd:${u}][0]+${u2}`;
      case 3:
        return imm2 === 0 ? `r${dst} = btf_id[${u}]` : `r${dst} = btf_id[${u}][fd:${u2}]`;
      case 4:
        return imm2 === 0 ? `r${dst} = subprog[${signed(imm)}]` : undefined;
      case 5:
        return imm2 === 0 ? `r${dst} = map[idx:${u}]` : undefined;
      case 6:
        return `r${dst} = map[idx:${u}]+${u2}`;
      default:
        return undefined;
    }
  }
  if (size === Size.DW || off !== 0 || dst !== 0) return undefined;
  if (mode === Mode.ABS) return src === 0 ? `r0 = *(${USIZE[size]} *)skb[${imm}]` : undefined;
  if (mode === Mode.IND) return `r0 = *(${USIZE[size]} *)skb[r${src} + ${imm}]`;
  return undefined;
}

function ldxText(insn: Insn): string | undefined {
  const { code, dst, src, off, imm } = insn;
  const mode = code & 0xe0;
  const size = code & 0x18;
  if (imm !== 0) return undefined;
  let type: string | undefined;
  if (mode === Mode.MEM) type = USIZE[size];
  else if (mode === Mode.MEMSX) type = SSIZE[size];
  else if (mode === Mode.PROBE_MEM32) type = `${USIZE[size]} __arena`;
  else if (mode === Mode.PROBE_MEM32SX) type = SSIZE[size] && `${SSIZE[size]} __arena`;
  else if (mode === Mode.PROBE_MEM) type = `${USIZE[size]} __probe`;
  else if (mode === Mode.PROBE_MEMSX) type = SSIZE[size] && `${SSIZE[size]} __probe`;
  return type === undefined ? undefined : `r${dst} = *(${type} *)(r${src} ${signed(off)})`;
}

function stText(insn: Insn): string | undefined {
  const { code, dst, src, off, imm } = insn;
  const mode = code & 0xe0;
  const size = code & 0x18;
  if (code === (Class.ST | Mode.NOSPEC)) return dst === 0 && src === 0 && off === 0 && imm === 0 ? 'nospec' : undefined;
  if (src !== 0) return undefined;
  const type = mode === Mode.MEM ? USIZE[size] : mode === Mode.PROBE_MEM32 ? `${USIZE[size]} __arena` : undefined;
  return type === undefined ? undefined : `*(${type} *)(r${dst} ${signed(off)}) = ${imm}`;
}

function stxText(insn: Insn): string | undefined {
  const { code, dst, src, off, imm } = insn;
  const mode = code & 0xe0;
  const size = code & 0x18;
  const t = USIZE[size]!;
  if (mode === Mode.MEM || mode === Mode.PROBE_MEM32) {
    if (imm !== 0) return undefined;
    return `*(${mode === Mode.MEM ? t : `${t} __arena`} *)(r${dst} ${signed(off)}) = r${src}`;
  }
  if (mode !== Mode.ATOMIC && mode !== Mode.PROBE_ATOMIC) return undefined;
  const type = mode === Mode.ATOMIC ? t : `${t} __arena`;
  const mem = `(${type} *)(r${dst} ${signed(off)})`;
  if (imm === AtomicOp.LOAD_ACQ) return `r${dst} = load_acquire((${type} *)(r${src} ${signed(off)}))`;
  if (imm === AtomicOp.STORE_REL) return `store_release(${mem}, r${src})`;
  if (size !== Size.W && size !== Size.DW) return undefined;
  const bits = size === Size.DW ? '64' : '';
  if (imm === AtomicOp.CMPXCHG) return `r0 = atomic${bits}_cmpxchg(${mem}, r0, r${src})`;
  if (imm === AtomicOp.XCHG) return `r${src} = atomic${bits}_xchg(${mem}, r${src})`;
  const name = ATOMIC_NAMES[imm & ~AtomicOp.FETCH];
  if (name === undefined) return undefined;
  if ((imm & AtomicOp.FETCH) !== 0) return `r${src} = atomic${bits}_fetch_${name}(${mem}, r${src})`;
  return `lock *(${type} *)(r${dst} ${signed(off)}) ${ALU_OPS[imm >> 4]} r${src}`;
}
