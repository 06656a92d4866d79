// src/jit/frontend — the verifier's rewrites: an original program (as a compiler emits it) becomes exactly
// the program Linux 6.18's x86-64 JIT consumes (`xlated_resolved`). This file: the front end's contract.

import type { Program } from '../../isa/insn.js';

/** A call target the front end needs an address for. */
export type CallTarget =
  | { readonly kind: 'helper'; readonly id: number }
  | { readonly kind: 'kfunc'; readonly name: string }
  /** Kernel-internal functions the verifier's rewrites call (timed may_goto). */
  | { readonly kind: 'internal'; readonly name: 'arch_bpf_timed_may_goto' };

export interface FrontEndEnv {
  /** `__bpf_call_base`: helper/kfunc calls become imm = target - callBase. */
  readonly callBase: bigint;
  /** Absolute address of a helper, kfunc or internal function. */
  readonly resolveCall: (call: CallTarget) => bigint;
  /** Raw-bytecode kfunc placeholders (the sidecar's `kfuncs`): call imm ("0x101") → kfunc name. */
  readonly kfuncs?: Readonly<Record<string, string>>;
  /** The arena (map index 0), or null/undefined when the program has none. */
  readonly arena?: {
    /** `struct bpf_map *` of the arena (ld_imm64 MAP_FD). */
    readonly mapPtr: bigint;
    readonly userVmStart: bigint;
    readonly kernVmStart: bigint;
    /** map_flags; BPF_F_NO_USER_CONV (1 << 18) turns cast-to-user into a 32-bit move. */
    readonly flags: number;
  } | null;
  /**
   * Other maps by index (index 0 is the arena when there is one): MAP_FD → `struct bpf_map *`,
   * MAP_VALUE → address of the value at byte `off`.
   */
  readonly resolveMap?: (index: number, what: { kind: 'map' } | { kind: 'value'; off: number }) => bigint;
  /** &jiffies (bpf_jiffies64 is inlined as a load from it). */
  readonly jiffiesAddr?: bigint;
  /** Per-CPU offset of `cpu_number` (bpf_get_smp_processor_id is inlined); absent: the call is kept. */
  readonly cpuNumberAddr?: number;
  /** Per-CPU offset of `current_task`: newer kernels inline bpf_get_current_task(_btf); 6.18 keeps the call (leave absent). */
  readonly currentTaskAddr?: number;
  /**
   * Original slot indices the verifier visited (e.g. from its level-2 log). When given, dead code is removed
   * exactly like the kernel does; otherwise the front end's own constant and range tracking decides (less precise
   * than the verifier's tnums and 32-bit sub-ranges: it may keep code the kernel removes, never the reverse).
   */
  readonly visited?: ReadonlySet<number>;
  /** x86-64 on 6.18 supports the timed may_goto (default true). */
  readonly timedMayGoto?: boolean;
}

/** One function (main program or subprogram) of the output, as slot ranges. */
export interface FunctionRange {
  readonly firstPc: number;
  /** One past the last slot. */
  readonly endPc: number;
}

export interface FrontEndResult {
  /** The kernel-xlated program. */
  readonly prog: Program;
  /** Verifier stack depth per function (unrounded; the JIT's `sub rsp` is round_up(depth, 8)). */
  readonly stackDepth: readonly number[];
  readonly functions: readonly FunctionRange[];
  /** Original slot index of each output slot (-1 for inserted instructions). */
  readonly origPc: Int32Array;
  /** What the front end could not decide like the kernel (e.g. dead code kept). */
  readonly notes: readonly string[];
}
