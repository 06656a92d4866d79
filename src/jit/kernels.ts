// src/jit — build-specific facts of the kernels this JIT was checked against. Two constants of a
// kernel build reach the image without appearing in the program: the per-CPU `this_cpu_off` address
// (per-CPU address move) and, under the RETHUNK mitigation, the return thunk that replaces `ret`.
// A build is recognised by its __bpf_call_base (kernel text is not randomised on these machines);
// explicit options always win.

/** Structure offsets and the indirect-jump form used by the tail-call sequence. */
export interface TailCallLayout {
  /** offsetof(struct bpf_array, map.max_entries) */
  readonly arrayMaxEntries: number;
  /** offsetof(struct bpf_array, ptrs) */
  readonly arrayPtrs: number;
  /** offsetof(struct bpf_prog, bpf_func) */
  readonly progBpfFunc: number;
  /** __x86_indirect_thunk_rcx under retpolines (`jmp thunk`), else absent (`jmp rcx`). */
  readonly indirectThunkRcx?: bigint;
}

/** Offsets measured on 6.18.44-fc-v657; used for builds not listed below. */
export const DEFAULT_TAIL_CALL_LAYOUT: TailCallLayout = { arrayMaxEntries: 0x4c, arrayPtrs: 0x138, progBpfFunc: 0x48 };

export interface KernelBuild {
  readonly name: string;
  readonly callBase: bigint;
  /** Low 32 bits of &this_cpu_off. */
  readonly thisCpuOff: number;
  /** The thunk `jmp`ed to instead of `ret`, when the build returns through one. */
  readonly returnThunk?: bigint;
  readonly tailCall?: TailCallLayout;
}

export const KNOWN_KERNELS: readonly KernelBuild[] = [
  // The kernel of ../shared/kernel-corpus*: plain `ret`.
  { name: 'linux 6.18 (kernel corpus)', callBase: 0xffffffff814dccd0n, thisCpuOff: 0x83b0c028 },
  // 6.18.44-fc-v657 with SRSO "Safe RET" and retpolines: returns through srso_alias_return_thunk,
  // indirect jumps through __x86_indirect_thunk_rcx (checked against the live kernel).
  {
    name: 'linux 6.18.44-fc-v657',
    callBase: 0xffffffff814ca810n,
    thisCpuOff: 0x83b0e028,
    returnThunk: 0xffffffff8110410bn,
    // Tail calls checked against this kernel (socket-filter programs with a prog array).
    tailCall: { ...DEFAULT_TAIL_CALL_LAYOUT, indirectThunkRcx: 0xffffffff82202a60n },
  },
];

export function knownKernel(callBase: bigint): KernelBuild | undefined {
  return KNOWN_KERNELS.find((k) => k.callBase === callBase);
}
