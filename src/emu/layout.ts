// src/emu — the kernel-like address space the engine builds, and this project's reference kernel's symbol
// addresses (Linux 6.18 x86-64, measured from the kernel corpus) so the kernel's own images run unchanged.

/** Helper ids of include/uapi/linux/bpf.h used by the engine. */
export const HelperId = {
  map_lookup_elem: 1,
  map_update_elem: 2,
  map_delete_elem: 3,
  probe_read: 4,
  ktime_get_ns: 5,
  trace_printk: 6,
  get_prandom_u32: 7,
  get_smp_processor_id: 8,
  get_current_pid_tgid: 14,
  get_current_uid_gid: 15,
  get_current_comm: 16,
  get_current_task: 35,
  get_numa_node_id: 42,
  get_current_cgroup_id: 80,
  strtol: 105,
  strtoul: 106,
  probe_read_kernel: 113,
  probe_read_kernel_str: 115,
  jiffies64: 118,
  ktime_get_boot_ns: 125,
  ktime_get_coarse_ns: 160,
  trace_vprintk: 177,
  loop: 181,
  ktime_get_tai_ns: 208,
} as const;

export const HELPER_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(HelperId).map(([name, id]) => [id, `bpf_${name}`]),
);

/** Addresses of the reference kernel (from the corpora's kernel.json and images). */
export interface KernelSymbols {
  /** `__bpf_call_base`. */
  readonly callBase: bigint;
  /** Helper id → function address (call imm = address - callBase). */
  readonly helpers: ReadonlyMap<number, bigint>;
  /** kfunc name → function address. */
  readonly kfuncs: ReadonlyMap<string, bigint>;
  /** `arch_bpf_timed_may_goto`: the verifier's may_goto rewrite calls it (count in r10/AX, custom ABI). */
  readonly timedMayGoto: bigint;
  /** `this_cpu_off` (read gs-relative by the inlined bpf_get_smp_processor_id). */
  readonly thisCpuOff: bigint;
  /** `cpu_number` (per-CPU; the inlined helper loads it after adding this_cpu_off). */
  readonly cpuNumber: bigint;
  /** `jiffies` (the inlined bpf_jiffies64 loads it). */
  readonly jiffies: bigint;
}

export const LINUX_6_18: KernelSymbols = {
  callBase: 0xffffffff814dccd0n,
  helpers: new Map<number, bigint>([
    [HelperId.ktime_get_ns, 0xffffffff8151fe00n],
    [HelperId.get_prandom_u32, 0xffffffff814e2860n],
    [HelperId.get_numa_node_id, 0xffffffff8151fa70n],
    [HelperId.probe_read_kernel, 0xffffffff814cb760n],
    [HelperId.probe_read_kernel_str, 0xffffffff814cb7d0n],
    [HelperId.get_current_cgroup_id, 0xffffffff815200e0n],
    [HelperId.strtol, 0xffffffff81520370n],
    [HelperId.strtoul, 0xffffffff81520420n],
    [HelperId.get_current_uid_gid, 0xffffffff8151fef0n],
    [HelperId.ktime_get_tai_ns, 0xffffffff8151fed0n],
    [HelperId.ktime_get_boot_ns, 0xffffffff8151fe20n],
    [HelperId.get_current_task, 0xffffffff814c97c0n],
    [HelperId.get_current_pid_tgid, 0xffffffff8151fc50n],
    [HelperId.get_current_comm, 0xffffffff8151ff70n],
  ]),
  kfuncs: new Map<string, bigint>([
    ['bpf_arena_alloc_pages', 0xffffffff8155ac80n],
    ['bpf_arena_free_pages', 0xffffffff8155afe0n],
  ]),
  timedMayGoto: 0xffffffff8135ac30n,
  thisCpuOff: 0xffffffff83b0c028n,
  cpuNumber: 0xffffffff83b0c034n,
  jiffies: 0xffffffff83009980n,
};

export const PAGE = 4096;
export const pageOf = (a: bigint): bigint => a & ~0xfffn;

/** Where the engine puts things (all canonical kernel addresses, like the kernel's own layout). */
export const LAYOUT = {
  /** Default image base (the kernel's module/BPF area). */
  imageBase: 0xffffffffc0000000n,
  /** Helpers/kfuncs without a known kernel address get one here: base + 16 * index. */
  syntheticHelpers: 0xffffffff81e00000n,
  syntheticKfuncs: 0xffffffff81f00000n,
  /** Engine-internal code: the return trampoline (emulation stops when the program returns here), bpf_loop. */
  trampoline: 0xffffffff81ff0000n,
  /** Kernel stack (task stack): STACK_SIZE bytes, one unmapped guard page below and above. */
  stackTop: 0xffffc90000104000n,
  stackSize: 16384,
  /** The context buffer (r1); maps and other kernel objects follow in the direct map. */
  ctx: 0xffff888100000000n,
  maps: 0xffff888200000000n,
  /** A zeroed stand-in for `struct task_struct` (16 KiB), returned by bpf_get_current_task. */
  task: 0xffff888300000000n,
  /** Default arena addresses when the environment fixes none (match the corpus's typical values). */
  kernVmStart: 0xffffc90000000000n + 0x100000000n,
  userVmStart: 0x100000000n,
} as const;
