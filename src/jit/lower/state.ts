// src/jit/lower — one module per BPF instruction class; each lowers one instruction into x86 bytes.
// FnState is everything a lowering may read or update while one function is being emitted in a pass.

import { insnError } from '../../errors.js';
import type { Insn } from '../../isa/insn.js';
import type { ExTableBuilder } from '../extable.js';
import type { TailCallLayout } from '../kernels.js';
import { BPF_TO_X86 } from '../regmap.js';
import type { Assembler } from '../x86/asm.js';

/** Per-function facts that do not change between passes. */
export interface FnInfo {
  /** Index of the function (0 = main). */
  readonly index: number;
  readonly firstPc: number;
  readonly endPc: number;
  /** Verifier stack depth (the prologue rounds it up to 8). */
  readonly stackDepth: number;
  /** Bit k set: BPF r(6+k) is mentioned, so its x86 register is pushed. */
  readonly calleeSaved: number;
  readonly tailCallReachable: boolean;
}

/** Program-wide constants. */
export interface ProgConsts {
  readonly callBase: bigint;
  /** 0n when the program has no arena. */
  readonly kernVmStart: bigint;
  readonly userVmStart: bigint;
  /** Upper 32 bits of userVmStart (the cast-to-user `or` immediate), computed once. */
  readonly userVmHi: number;
  /** Whether the program has an arena (kernVmStart !== 0n). */
  readonly arena: boolean;
  readonly bmi2: boolean;
  /** Address (low 32 bits) of the per-CPU `this_cpu_off`, for the per-CPU address move. */
  readonly thisCpuOff: number;
  /** x86_return_thunk when the kernel returns through it (RETHUNK mitigation), else 0n: plain ret. */
  readonly returnThunk: bigint;
  /** Structure offsets and indirect-jump form of tail calls (kernels.ts). */
  readonly tailCall: TailCallLayout;
  /** Image address of each function. */
  readonly imageBases: readonly bigint[];
  /** Function index owning each slot (empty for a program with one function: no callee to look up). */
  readonly funcOfPc: Int32Array;
}

export interface FnState {
  readonly a: Assembler;
  readonly fn: FnInfo;
  readonly prog: ProgConsts;
  /**
   * The kernel's addrs[]: addrs[k] = end offset of the function's slot k-1 (addrs[0] = end of the
   * prologue). Updated in place while a pass runs, so backward targets see this pass's values and
   * forward targets the previous pass's, exactly as do_jit does.
   */
  readonly addrs: Int32Array;
  /** Offset of the shared epilogue (set by the first exit). */
  cleanupAddr: number;
  seenExit: boolean;
  /** Padding passes: shrunk jumps are padded with nops so the image stops shrinking. */
  padding: boolean;
  /** The image pass: real call targets and exception-table entries. */
  final: boolean;
  /** Exception-table entries the image pass's lowerings make (merged with the copied ones by the layout). */
  readonly extable: ExTableBuilder;
  /** Length of the last tail-call sequence (its `out:` label), carried from pass to pass. */
  tailCallIndirectLabel: number;
  tailCallDirectLabel: number;
  /** Where the last conditional jump's Jcc (or its padding) began: the compare before it has a fixed size. */
  jccAt: number;
  /** callBase - this function's image base as an exact number (NaN when too far apart): call displacements
   *  without BigInt arithmetic. */
  readonly callDelta: number;
  /** The last exception-table record, kept in every pass so the image pass can copy instead of re-lowering:
   *  a count of records made, then the record's fields (see extable.ts). */
  exSeq: number;
  exStart: number;
  exLen: number;
  exClear: number;
  exAddr: number;
  exKind: number;
}

/** x86 register of a BPF register operand; r12..r15 do not exist. */
export function xreg(insn: Insn, bpfReg: number): number {
  return xregAt(insn.pc, bpfReg);
}

/** The same for the instruction at `pc` (lowerings that take the fields, not an Insn). */
export function xregAt(pc: number, bpfReg: number): number {
  const r = BPF_TO_X86[bpfReg];
  if (r === undefined) throw insnError(pc, `invalid register r${bpfReg}`);
  return r;
}

export function unknownOpcode(insn: Insn): never {
  return unknownCode(insn.pc, insn.code);
}

export function unknownCode(pc: number, code: number): never {
  throw insnError(pc, `unknown opcode 0x${code.toString(16).padStart(2, '0')}`);
}

/** A dense table indexed by the opcode's operation nibble (code >> 4): fast lookups in the emit loop. */
export function byOp<T>(entries: readonly (readonly [number, T])[]): readonly (T | undefined)[] {
  const table: (T | undefined)[] = new Array<T | undefined>(16).fill(undefined);
  for (const [op, v] of entries) table[op >> 4] = v;
  return table;
}

/**
 * `jmp rel32` to an absolute kernel address (a return or retpoline thunk). Its displacement is only known
 * once the image address is final; earlier passes emit the same length with a zero displacement.
 */
export function jmpAbsolute(st: FnState, target: bigint): void {
  let rel = 0;
  if (st.final) {
    const ip = st.prog.imageBases[st.fn.index]! + BigInt(st.a.pos);
    rel = Number(BigInt.asIntN(32, target - (ip + 5n)));
  }
  st.a.jmp32(rel);
}
