// src/jit — the contract of the JIT: options in, images + per-instruction map + exception table out.
// Lowering, layout and the x86 assembler live beside this file; the emulator reads only these types.

/** x86-64 general-purpose register number (0 = rax … 15 = r15), as encoded in ModRM/REX. */
export type X86Reg = number;

export interface JitOptions {
  /**
   * Address of each function's image: main program first, then subprograms in program order
   * (the kernel's `ksyms`). Missing entries get defaults.
   */
  readonly imageBase?: readonly bigint[];
  /** `__bpf_call_base`: helper and kfunc calls target callBase + imm. */
  readonly callBase?: bigint;
  /** The arena's kernel address. Present iff the program uses an arena (r12 is pushed and loaded). */
  readonly kernVmStart?: bigint;
  /** The arena's user address (cast-to-user merges its upper 32 bits). */
  readonly userVmStart?: bigint;
  /** Use BMI2 shlx/shrx/sarx for register shifts (default true, as on this project's reference CPU). */
  readonly bmi2?: boolean;
  /** Verifier stack depth of each function; computed from the program when absent. */
  readonly stackDepth?: readonly number[];
}

/** One exception-table record: an arena access that may fault (PROBE_MEM32 / PROBE_MEM32SX / PROBE_ATOMIC). */
export interface ExEntry {
  /** Offset of the faulting x86 instruction within its function's image. */
  readonly offset: number;
  /** Its length in bytes: a fault resumes at offset + length. */
  readonly length: number;
  /** Register zeroed on a fault (the destination of a load), or null (stores, atomics without result). */
  readonly clearReg: X86Reg | null;
  /** Register holding the 32-bit arena pointer (to report the faulting address). */
  readonly addrReg: X86Reg;
  /** The BPF instruction's signed 16-bit offset. */
  readonly off: number;
  /** Slot index of the BPF instruction. */
  readonly pc: number;
  readonly kind: 'load' | 'store' | 'atomic';
}

/**
 * A function's exception table, entries in address order. The JIT returns a packed table (extable.ts
 * PackedExTable: typed arrays, no object per entry, so a million arena accesses make no garbage); `at` and
 * iteration make an ExEntry on demand. Any `readonly ExEntry[]` satisfies it too (e.g. tables read from a
 * kernel image).
 */
export interface ExTable extends Iterable<ExEntry> {
  readonly length: number;
  /** Entry `index` (negative counts from the end, as Array.prototype.at), or undefined. */
  at(index: number): ExEntry | undefined;
}

export interface JitFunction {
  /** Slot index of the function's first instruction. */
  readonly firstPc: number;
  /** Slot index one past its last instruction. */
  readonly endPc: number;
  readonly imageBase: bigint;
  readonly image: Uint8Array;
  /** Stack depth used for `sub rsp` (rounded up to 8). */
  readonly stackDepth: number;
  /**
   * addrs[k] = offset in `image` where the code of slot firstPc + k begins;
   * addrs[endPc - firstPc] = end of the last instruction's code. The second slot of ld_imm64
   * has the same value as the slot after it.
   */
  readonly addrs: Int32Array;
  readonly extable: ExTable;
}

export interface JitResult {
  /** Main program first, then subprograms in program order. */
  readonly functions: readonly JitFunction[];
  /** Number of layout passes the kernel's algorithm needed. */
  readonly passes: number;
}
