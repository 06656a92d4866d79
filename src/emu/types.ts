// src/emu — the engine's public types: run options and results, faults, trace steps.
import type { HelperFn } from './helpers.js';
import type { KernelSymbols } from './layout.js';

export interface EngineOptions {
  /** Kernel addresses of helpers, kfuncs and per-CPU data (default: the reference Linux 6.18 build). */
  readonly symbols?: KernelSymbols;
  /** Extra kfunc addresses (e.g. a kernel.json's `kfunc_addrs`); they take precedence. */
  readonly kfuncAddrs?: Readonly<Record<string, bigint>>;
  /** Extra or replacement helpers (by id) and kfuncs (by name). */
  readonly helpers?: ReadonlyMap<number, HelperFn>;
  readonly kfuncs?: ReadonlyMap<string, HelperFn>;
  /** Seed of bpf_get_prandom_u32. */
  readonly seed?: bigint;
  /** Value of `jiffies` (and bpf_jiffies64). */
  readonly jiffies?: bigint;
  /**
   * How the wall-clock limit stops a run: 'worker' (default) arms the process's watchdog thread, a few
   * shared-memory writes per run after a ~40 ms start; 'unicorn' passes the limit to uc_emu_start, which
   * starts a native timer thread per call (~0.5 ms) — cheaper for a process that runs a program once
   * (the conformance plugin).
   */
  readonly timer?: 'worker' | 'unicorn';
}

export interface RunOptions {
  /** Context bytes (r1 points at a copy, copied back after the run). */
  readonly ctx?: Uint8Array;
  /**
   * Instruction budget (x86 instructions). Counting makes Unicorn instrument every instruction (~20x slower),
   * so it is off unless given; the wall-clock limit always applies. The count restarts after each
   * exception-table fixup of an arena fault (Unicorn does not expose its counter).
   */
  readonly maxInsns?: number;
  /** Wall-clock limit in milliseconds (default 10 000) of the whole call, all repeats included. */
  readonly timeoutMs?: number;
  /**
   * Runs the program this many times in one emulator entry (default 1), like BPF_PROG_TEST_RUN's `repeat`:
   * the same context memory each time, nothing reset in between; the result is the last run's (or the
   * faulting run's), `runs` says how many completed. Costs well under a microsecond per run.
   */
  readonly repeat?: number;
  /** Called for each executed BPF instruction with the registers it changed (slow: hooks every instruction). */
  readonly trace?: (step: TraceStep) => void;
  /** Called for each helper/kfunc call (name, r1–r5, result) and each arena fault the exception table resolved. */
  readonly onEvent?: (event: RunEvent) => void;
}

export type RunEvent =
  | { readonly kind: 'call'; readonly name: string; readonly args: readonly bigint[]; readonly result: bigint }
  | { readonly kind: 'arena-fault'; readonly fault: ArenaFault };

export interface TraceStep {
  /** Function index and BPF slot index. */
  readonly func: number;
  readonly pc: number;
  /** Address of the instruction's first x86 instruction. */
  readonly x86: bigint;
  /** BPF registers (0–10, 11 = AX) whose value changed, with the new value. */
  readonly changed: readonly (readonly [number, bigint])[];
}

export type FaultKind =
  | 'read' // load from an unmapped/protected address
  | 'write' // store to one (stack overflow into the guard page lands here too)
  | 'fetch' // jump/call to non-code
  | 'invalid-insn' // an instruction the CPU model does not have
  | 'trap' // int3 padding and other exceptions
  | 'helper' // a helper/kfunc problem (unknown id, not implemented, bad argument)
  | 'insn-limit'
  | 'timeout';

export interface Fault {
  readonly kind: FaultKind;
  readonly message: string;
  /** The x86 instruction (null when unknown). */
  readonly x86Address: bigint | null;
  readonly x86Text: string | null;
  /** False when the faulting instruction could not be pinned down (x86Address is then approximate). */
  readonly exact: boolean;
  /** BPF function index and slot index of that instruction (null outside any BPF instruction's code). */
  readonly func: number | null;
  readonly pc: number | null;
  /** Accessed address (memory faults). */
  readonly accessAddress: bigint | null;
}

/** A PROBE_MEM32 access that hit a missing arena page and was resolved by the exception table. */
export interface ArenaFault {
  readonly func: number;
  readonly pc: number;
  readonly kind: 'read' | 'write';
  /** Faulting kernel address and its offset from kern_vm_start. */
  readonly address: bigint;
  readonly arenaOffset: number;
}

export interface RunResult {
  /** r0 as the kernel reports it (u32). */
  readonly retval: number;
  readonly r0: bigint;
  readonly ctx: Uint8Array;
  readonly fault: Fault | null;
  readonly arenaFaults: readonly ArenaFault[];
  /** bpf_trace_printk output lines. */
  readonly output: readonly string[];
  /** x86 instructions executed, when counted (trace mode). */
  readonly insns: number | null;
  /** Wall time of the emulation itself. */
  readonly timeNs: number;
  /** Runs that completed (RunOptions.repeat; 1 or 0 for a single run). */
  readonly runs: number;
}
