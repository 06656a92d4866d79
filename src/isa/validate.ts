// Structural validation of a BPF program: every encoding rule of RFC 9669 plus Linux's additions, the
// kernel-internal forms of a verified ("xlated") program, and control flow (jump targets, functions that
// fall off their end). It is not the verifier: no types, no bounds, no values.

import { BpfError, type Diagnostic } from '../errors.js';
import type { Dialect, Insn, Program } from './insn.js';
import { AluOp, AtomicOp, Class, JmpOp, LD_IMM64, Mode, MovOff, PseudoCall, Size, Src } from './opcodes.js';

const MAX_REG = 10;
const AX = 11;

/** Problems of one instruction on its own (fields and registers), without control flow. */
export function insnProblems(insn: Insn, dialect: Dialect): string[] {
  const out: string[] = [];
  checkFields(insn, dialect, out);
  return out;
}

function reg(n: number, what: 'dst_reg' | 'src_reg', dialect: Dialect, out: string[]): void {
  if (n <= MAX_REG) return;
  if (n === AX && dialect === 'kernel-xlated') return;
  out.push(
    n === AX
      ? `${what} r11 (AX) exists only in the kernel-xlated dialect`
      : `${what} r${n} does not exist (registers are r0..r10)`,
  );
}

function zero(value: number, what: string, out: string[]): void {
  if (value !== 0) out.push(`reserved field ${what} must be 0, got ${value}`);
}

function writes(n: number, out: string[]): void {
  if (n === 10) out.push('r10 is the read-only frame pointer and cannot be written');
}

function unknown(code: number, out: string[], why = ''): void {
  out.push(`unknown opcode 0x${code.toString(16).padStart(2, '0')}${why ? ` (${why})` : ''}`);
}

function checkFields(insn: Insn, dialect: Dialect, out: string[]): void {
  const { code } = insn;
  switch (code & 0x07) {
    case Class.ALU:
    case Class.ALU64:
      return checkAlu(insn, dialect, out);
    case Class.JMP:
    case Class.JMP32:
      return checkJmp(insn, dialect, out);
    case Class.LD:
      return checkLd(insn, dialect, out);
    case Class.LDX:
      return checkLdx(insn, dialect, out);
    case Class.ST:
      return checkSt(insn, dialect, out);
    default:
      return checkStx(insn, dialect, out);
  }
}

function checkAlu(insn: Insn, dialect: Dialect, out: string[]): void {
  const { code, dst, src, off, imm } = insn;
  const is64 = (code & 0x07) === Class.ALU64;
  const op = code & 0xf0;
  const x = (code & Src.X) !== 0;
  const before = out.length;
  if (op === 0xe0 || op === 0xf0) return unknown(code, out);
  reg(dst, 'dst_reg', dialect, out);
  if (op === AluOp.NEG) {
    if (x) return unknown(code, out, 'neg takes no source operand');
    zero(src, 'src_reg', out);
    zero(off, 'off', out);
    zero(imm, 'imm', out);
  } else if (op === AluOp.END) {
    if (is64 && x) return unknown(code, out, 'bswap has no BPF_X form');
    zero(src, 'src_reg', out);
    zero(off, 'off', out);
    if (imm !== 16 && imm !== 32 && imm !== 64) out.push(`byte swap width must be 16, 32 or 64, got ${imm}`);
  } else if (op === AluOp.MOV && x) {
    reg(src, 'src_reg', dialect, out);
    checkMovX(insn, is64, dialect, out);
  } else {
    if (x) {
      reg(src, 'src_reg', dialect, out);
      zero(imm, 'imm', out);
    } else {
      zero(src, 'src_reg', out);
    }
    if (op === AluOp.DIV || op === AluOp.MOD) {
      if (off !== 0 && off !== 1) out.push(`off of div/mod must be 0 (unsigned) or 1 (signed), got ${off}`);
    } else {
      zero(off, 'off', out);
    }
  }
  if (out.length === before) writes(dst, out);
}

function checkMovX(insn: Insn, is64: boolean, dialect: Dialect, out: string[]): void {
  const { off, imm } = insn;
  const xlated = dialect === 'kernel-xlated';
  if (off === 0) {
    // imm 1 on a 32-bit mov is the verifier's zero-extension marker (BPF_ZEXT_REG).
    if (imm !== 0 && !(xlated && !is64 && imm === 1)) out.push(`reserved field imm must be 0, got ${imm}`);
    return;
  }
  if (off === 8 || off === 16 || (off === 32 && is64)) return zero(imm, 'imm', out);
  if (is64 && off === MovOff.ADDR_SPACE_CAST) {
    if (imm !== 1 && imm !== 0x10000) out.push(`addr_space_cast converts between address spaces 0 and 1 only (imm 0x1 or 0x10000), got 0x${(imm >>> 0).toString(16)}`);
    return;
  }
  if (is64 && off === MovOff.PERCPU) {
    if (!xlated) out.push('per-CPU address move (mov with off -1) exists only in the kernel-xlated dialect');
    return zero(imm, 'imm', out);
  }
  out.push(`off of ${is64 ? 'mov' : 'mov32'} must be ${is64 ? '0, 8, 16, 32 (movsx) or 1 (addr_space_cast)' : '0, 8 or 16 (movsx)'}, got ${off}`);
}

function checkJmp(insn: Insn, dialect: Dialect, out: string[]): void {
  const { code, dst, src, off, imm } = insn;
  const is32 = (code & 0x07) === Class.JMP32;
  const op = code & 0xf0;
  const x = (code & Src.X) !== 0;
  switch (op) {
    case JmpOp.JA:
      if (x) return unknown(code, out, 'indirect jump is not supported');
      zero(dst, 'dst_reg', out);
      zero(src, 'src_reg', out);
      if (is32) zero(off, 'off', out);
      else zero(imm, 'imm', out);
      return;
    case JmpOp.CALL:
      if (is32) return unknown(code, out, 'call exists only in class JMP');
      if (x) {
        // callx (LLVM): the target register is in dst_reg.
        reg(dst, 'dst_reg', dialect, out);
        zero(src, 'src_reg', out);
        zero(off, 'off', out);
        zero(imm, 'imm', out);
        return;
      }
      zero(dst, 'dst_reg', out);
      if (src > PseudoCall.KFUNC) out.push(`src_reg of call must be 0 (helper), 1 (bpf-to-bpf) or 2 (kfunc), got ${src}`);
      // A kfunc call's off selects the module BTF (fd_array index); other calls have none.
      if (src !== PseudoCall.KFUNC) zero(off, 'off', out);
      return;
    case JmpOp.EXIT:
      if (is32 || x) return unknown(code, out, 'exit is 0x95');
      zero(dst, 'dst_reg', out);
      zero(src, 'src_reg', out);
      zero(off, 'off', out);
      zero(imm, 'imm', out);
      return;
    case JmpOp.JCOND:
      if (is32 || x) return unknown(code, out, 'may_goto is 0xe5');
      if (dialect === 'kernel-xlated') return void out.push('may_goto does not exist after the verifier (it is rewritten)');
      if (src !== 0) out.push(`src_reg of may_goto (JCOND) must be 0, got ${src}`);
      zero(dst, 'dst_reg', out);
      zero(imm, 'imm', out);
      return;
    case JmpOp.TAIL_CALL:
      if (is32 || x || dialect !== 'kernel-xlated') return unknown(code, out, is32 || x ? '' : 'tail calls exist only in the kernel-xlated dialect');
      zero(dst, 'dst_reg', out);
      zero(src, 'src_reg', out);
      zero(off, 'off', out);
      if (imm < 0) out.push(`imm of a tail call must be 0 (indirect) or a poke index + 1, got ${imm}`);
      return;
    default:
      reg(dst, 'dst_reg', dialect, out);
      if (x) {
        reg(src, 'src_reg', dialect, out);
        zero(imm, 'imm', out);
      } else {
        zero(src, 'src_reg', out);
      }
  }
}

function checkLd(insn: Insn, dialect: Dialect, out: string[]): void {
  const { code, dst, src, off, imm } = insn;
  const mode = code & 0xe0;
  const size = code & 0x18;
  if (code === LD_IMM64) {
    reg(dst, 'dst_reg', dialect, out);
    zero(off, 'off', out);
    if (dialect === 'kernel-xlated') {
      // The verifier resolves map/BTF references into plain immediates; only BPF_PSEUDO_FUNC stays.
      if (src !== 0 && src !== 4) out.push(`src_reg of ld_imm64 must be 0 or 4 after the verifier, got ${src}`);
    } else if (src > 6) {
      out.push(`src_reg of ld_imm64 must be 0..6 (BPF_PSEUDO_*), got ${src}`);
    }
    if ((src === 1 || src === 4 || src === 5) && (insn.imm2 ?? 0) !== 0) {
      out.push(`second slot imm of ld_imm64 with src_reg ${src} must be 0, got ${insn.imm2}`);
    }
    if (out.length === 0) writes(dst, out);
    return;
  }
  if ((mode === Mode.ABS || mode === Mode.IND) && size !== Size.DW) {
    if (dialect === 'kernel-xlated') return void out.push('legacy packet load (LD_ABS/LD_IND) does not exist after the verifier');
    zero(dst, 'dst_reg', out);
    zero(off, 'off', out);
    if (mode === Mode.ABS) zero(src, 'src_reg', out);
    else reg(src, 'src_reg', dialect, out);
    void imm;
    return;
  }
  unknown(code, out);
}

function checkLdx(insn: Insn, dialect: Dialect, out: string[]): void {
  const { code, dst, src, imm } = insn;
  const mode = code & 0xe0;
  const size = code & 0x18;
  const xlated = dialect === 'kernel-xlated';
  const ok =
    mode === Mode.MEM ||
    (mode === Mode.MEMSX && size !== Size.DW) ||
    (xlated && (mode === Mode.PROBE_MEM32 || mode === Mode.PROBE_MEM)) ||
    (xlated && (mode === Mode.PROBE_MEM32SX || mode === Mode.PROBE_MEMSX) && size !== Size.DW);
  if (!ok) return unknown(code, out, ldxModeHint(mode, xlated));
  reg(dst, 'dst_reg', dialect, out);
  reg(src, 'src_reg', dialect, out);
  zero(imm, 'imm', out);
  if (out.length === 0) writes(dst, out);
}

function checkSt(insn: Insn, dialect: Dialect, out: string[]): void {
  const { code, dst, src, off, imm } = insn;
  const mode = code & 0xe0;
  const xlated = dialect === 'kernel-xlated';
  if (xlated && code === (Class.ST | Mode.NOSPEC)) {
    zero(dst, 'dst_reg', out);
    zero(src, 'src_reg', out);
    zero(off, 'off', out);
    zero(imm, 'imm', out);
    return;
  }
  if (mode !== Mode.MEM && !(xlated && mode === Mode.PROBE_MEM32)) return unknown(code, out, modeHint(mode, xlated));
  reg(dst, 'dst_reg', dialect, out);
  zero(src, 'src_reg', out);
}

const ATOMIC_RMW: ReadonlySet<number> = new Set([
  AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR,
  AtomicOp.ADD | AtomicOp.FETCH, AtomicOp.OR | AtomicOp.FETCH, AtomicOp.AND | AtomicOp.FETCH, AtomicOp.XOR | AtomicOp.FETCH,
  AtomicOp.XCHG, AtomicOp.CMPXCHG,
]);

function checkStx(insn: Insn, dialect: Dialect, out: string[]): void {
  const { code, dst, src, imm } = insn;
  const mode = code & 0xe0;
  const size = code & 0x18;
  const xlated = dialect === 'kernel-xlated';
  if (mode === Mode.MEM || (xlated && mode === Mode.PROBE_MEM32)) {
    reg(dst, 'dst_reg', dialect, out);
    reg(src, 'src_reg', dialect, out);
    zero(imm, 'imm', out);
    return;
  }
  if (mode !== Mode.ATOMIC && !(xlated && mode === Mode.PROBE_ATOMIC)) return unknown(code, out, modeHint(mode, xlated));
  reg(dst, 'dst_reg', dialect, out);
  reg(src, 'src_reg', dialect, out);
  if (imm === AtomicOp.LOAD_ACQ || imm === AtomicOp.STORE_REL) {
    if (out.length === 0 && imm === AtomicOp.LOAD_ACQ) writes(dst, out);
    return;
  }
  if (!ATOMIC_RMW.has(imm)) return void out.push(`unknown atomic operation imm 0x${(imm >>> 0).toString(16)}`);
  if (size !== Size.W && size !== Size.DW) return void out.push('atomic read-modify-write needs a 32- or 64-bit size');
  if (out.length === 0 && (imm & AtomicOp.FETCH) !== 0 && imm !== AtomicOp.CMPXCHG) writes(src, out);
}

function modeHint(mode: number, xlated: boolean): string {
  if (!xlated && (mode === Mode.PROBE_MEM32 || mode === Mode.PROBE_ATOMIC)) return 'PROBE_* modes exist only in the kernel-xlated dialect';
  return '';
}

function ldxModeHint(mode: number, xlated: boolean): string {
  if (!xlated && (mode === Mode.PROBE_MEM || mode === Mode.PROBE_MEMSX || mode === Mode.PROBE_MEM32 || mode === Mode.PROBE_MEM32SX)) {
    return 'PROBE_* modes exist only in the kernel-xlated dialect';
  }
  return '';
}

/** Slot index a jump/call at `insn` goes to, or undefined when it is not a pc-relative transfer. */
export function branchTarget(insn: Insn): number | undefined {
  const { code } = insn;
  const cls = code & 0x07;
  if (cls !== Class.JMP && cls !== Class.JMP32) {
    // ld_imm64 of a function address (BPF_PSEUDO_FUNC) is relative like a call.
    if (code === LD_IMM64 && insn.src === 4) return insn.pc + 1 + insn.imm;
    return undefined;
  }
  const op = code & 0xf0;
  if (op === JmpOp.EXIT) return undefined;
  if (op === JmpOp.CALL) return insn.src === PseudoCall.CALL && (code & Src.X) === 0 ? insn.pc + 1 + insn.imm : undefined;
  if (code === (Class.JMP32 | JmpOp.JA)) return insn.pc + 1 + insn.imm;
  return insn.pc + 1 + insn.off;
}

function isFunctionEntry(insn: Insn): boolean {
  return (insn.code === (Class.JMP | JmpOp.CALL) && insn.src === PseudoCall.CALL) || (insn.code === LD_IMM64 && insn.src === 4);
}

/** Validates a whole program; returns every problem (empty when valid). Linear in the program size. */
export function validate(prog: Program, dialect: Dialect = 'standard'): Diagnostic[] {
  const problems: Diagnostic[] = [];
  const { insns, slots } = prog;
  if (insns.length === 0) return [{ message: 'program is empty' }];
  // 1 = an instruction starts here, 2 = also a function entry.
  const starts = new Uint8Array(slots);
  for (const insn of insns) starts[insn.pc] = 1;
  const fieldMsgs: string[] = [];
  let fieldsOk = true;
  for (const insn of insns) {
    fieldMsgs.length = 0;
    checkFields(insn, dialect, fieldMsgs);
    for (const m of fieldMsgs) problems.push({ insn: insn.pc, message: m });
    if (fieldMsgs.length > 0) fieldsOk = false;
  }
  starts[0] = 2;
  for (const insn of insns) {
    const t = branchTarget(insn);
    if (t === undefined) continue;
    const what = isFunctionEntry(insn) ? 'call' : 'jump';
    if (t < 0 || t >= slots) {
      problems.push({ insn: insn.pc, message: `${what} out of range: target ${t} is outside the program (0..${slots - 1})` });
    } else if (starts[t] === 0) {
      problems.push({ insn: insn.pc, message: `${what} into the second slot of ld_imm64 at ${t - 1}` });
    } else if (isFunctionEntry(insn)) {
      starts[t] = 2;
    }
  }
  if (!fieldsOk) return problems;
  checkFunctions(prog, starts, problems);
  return problems;
}

/** Every function must end in exit or an unconditional jump, and jumps must stay inside their function. */
function checkFunctions(prog: Program, starts: Uint8Array, problems: Diagnostic[]): void {
  const { insns, slots } = prog;
  let fnStart = 0;
  let fnEnd = nextEntry(starts, 1, slots);
  for (let i = 0; i < insns.length; i++) {
    const insn = insns[i]!;
    if (insn.pc >= fnEnd) {
      fnStart = fnEnd;
      fnEnd = nextEntry(starts, fnStart + 1, slots);
    }
    const t = branchTarget(insn);
    if (t !== undefined && !isFunctionEntry(insn) && t >= 0 && t < slots && (t < fnStart || t >= fnEnd)) {
      problems.push({ insn: insn.pc, message: `jump to ${t} leaves its function (${fnStart}..${fnEnd - 1})` });
    }
    const last = i + 1 === insns.length || insns[i + 1]!.pc >= fnEnd;
    if (last && !endsFunction(insn)) {
      problems.push({
        insn: insn.pc,
        message:
          fnEnd === slots
            ? 'program can fall off its end: the last instruction must be exit or an unconditional jump'
            : `function ${fnStart}..${fnEnd - 1} falls through into the function at ${fnEnd}: its last instruction must be exit or an unconditional jump`,
      });
    }
  }
}

function nextEntry(starts: Uint8Array, from: number, slots: number): number {
  for (let s = from; s < slots; s++) if (starts[s] === 2) return s;
  return slots;
}

function endsFunction(insn: Insn): boolean {
  return insn.code === (Class.JMP | JmpOp.EXIT) || insn.code === (Class.JMP | JmpOp.JA) || insn.code === (Class.JMP32 | JmpOp.JA);
}

/** Throws a BpfError listing every problem when the program is not valid. */
export function assertValid(prog: Program, dialect: Dialect = 'standard'): void {
  const problems = validate(prog, dialect);
  if (problems.length > 0) throw new BpfError(problems);
}
