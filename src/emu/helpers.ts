// src/emu — BPF helpers and kfuncs implemented in TypeScript. A trampoline hook passes BPF r1–r5 here and
// puts the result in r0. Time and randomness are deterministic by default (seedable), so runs repeat.
import { HelperId, LAYOUT } from './layout.js';
import { tracePrintk } from '../isa/printk.js';

export { PRINTK_MAX_LINES } from '../isa/printk.js';
import type { BpfMap } from './maps.js';
import type { ArenaKfunc } from '../arena/index.js';

const EFAULT = -14n;
const EINVAL = -22n;
const ERANGE = -34n;
const E2BIG = -7n;

/** What a helper sees: its arguments and the guest's memory. */
export interface HelperCall {
  /** BPF r1..r5 (rdi, rsi, rdx, rcx, r8). */
  readonly args: readonly bigint[];
  /** Guest memory; null when any byte is unmapped. */
  read(addr: bigint, size: number): Uint8Array | null;
  /** Returns false when any byte is unmapped. */
  write(addr: bigint, bytes: Uint8Array): boolean;
  readonly state: HelperState;
}

export type HelperFn = (call: HelperCall) => bigint;

/** Mutable per-engine state shared by helpers. */
export class HelperState {
  /** trace_printk output of the current run (one entry per call). */
  output: string[] = [];
  maps = new Map<bigint, BpfMap>();
  /** The connected arena's kfuncs (src/arena), or null. */
  arena: Readonly<Record<string, ArenaKfunc>> | null = null;
  /** Virtual monotonic clock (ns); each time helper advances it by `clockStep`. */
  clock: bigint;
  private rng: bigint;
  constructor(
    seed: bigint = 0x2545f4914f6cdd1dn,
    clockStart: bigint = 1_000_000_000n,
    readonly clockStep: bigint = 1000n,
    readonly jiffies: bigint = 0x100000000n,
  ) {
    this.rng = BigInt.asUintN(64, seed) || 1n;
    this.clock = clockStart;
  }
  now(): bigint {
    this.clock += this.clockStep;
    return this.clock;
  }
  /** splitmix64 → 32-bit values. */
  random32(): bigint {
    this.rng = BigInt.asUintN(64, this.rng + 0x9e3779b97f4a7c15n);
    let z = this.rng;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return (z ^ (z >> 31n)) & 0xffffffffn;
  }
}

const u32 = (v: bigint): number => Number(v & 0xffffffffn);

/**
 * KMALLOC_MAX_SIZE on x86-64 (4 MiB): the largest object kmalloc makes, which bounds every map value (array and
 * hash maps refuse a larger value_size); the stack (512 bytes) and a syscall program's context (64 KiB) are
 * smaller. The verifier lets a helper touch only the memory region its pointer argument points into, so no
 * valid program passes a larger size: a larger one stops the run (a helper fault) instead of making the host
 * allocate it. src/interp applies the same bound.
 */
export const HELPER_MEM_MAX = 4 << 20;

/** A helper's size argument, bounded by HELPER_MEM_MAX (throws: the engine reports a helper fault). */
export function memSize(size: bigint): number {
  const n = BigInt.asUintN(64, size);
  if (n > BigInt(HELPER_MEM_MAX)) {
    throw new Error(`size ${n} is larger than any memory region a program can pass to a helper (${HELPER_MEM_MAX} bytes, KMALLOC_MAX_SIZE)`);
  }
  return Number(n);
}

function mapOf(call: HelperCall): BpfMap | null {
  return call.state.maps.get(call.args[0]!) ?? null;
}

function printk(call: HelperCall, fmtAddr: bigint, fmtSize: bigint, args: readonly bigint[]): bigint {
  return tracePrintk((addr, size) => call.read(addr, size), call.state.output, fmtAddr, fmtSize, args);
}

/** isspace() of the kernel's ctype table: \t \n \v \f \r, space and 0xa0. */
const isSpace = (c: number): boolean => (c >= 9 && c <= 13) || c === 32 || c === 0xa0;
/** A digit's value (0-9, a-f/A-F as `_tolower`), or 99. */
const digit = (c: number): number => (c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x61 + 10 : 99);

/**
 * bpf_strtol/strtoul, as kernel/bpf/helpers.c __bpf_strtoull: checks, leading isspace(), a '-', then at most
 * 63 characters (a NUL-terminated copy) through _parse_integer_fixup_radix and _parse_integer.
 */
function strto(call: HelperCall, signed: boolean): bigint {
  const [buf, bufLen, flags, res] = call.args as [bigint, bigint, bigint, bigint];
  const len = memSize(bufLen); // size_t
  if (buf === 0n || len === 0) return EINVAL;
  let base = Number(flags & 0x1fn);
  if (base !== 0 && base !== 8 && base !== 10 && base !== 16) return EINVAL;
  if ((flags & 0x1fn) !== flags) return EINVAL;
  const bytes = call.read(buf, len);
  if (!bytes) return EFAULT;
  let consumed = 0;
  while (consumed < len && isSpace(bytes[consumed]!)) consumed++;
  const negative = consumed < len && bytes[consumed] === 0x2d;
  if (negative) consumed++;
  if (consumed === len) return EINVAL;
  const str = bytes.slice(consumed, consumed + Math.min(len - consumed, 63));
  const at = (k: number): number => str[k] ?? 0; // the copy is NUL-terminated
  let p = 0;
  if (base === 0) base = at(0) === 0x30 ? ((at(1) | 0x20) === 0x78 && digit(at(2)) < 16 ? 16 : 8) : 10;
  if (base === 16 && at(0) === 0x30 && (at(1) | 0x20) === 0x78) p = 2;
  let v = 0n;
  let digits = 0;
  let overflow = false;
  for (let d = digit(at(p)); d < base; d = digit(at(++p)), digits++) {
    v = v * BigInt(base) + BigInt(d);
    if (v >= 1n << 64n) overflow = true;
    v = BigInt.asUintN(64, v);
  }
  if (overflow) return ERANGE;
  if (digits === 0) return EINVAL;
  let out = v;
  if (signed) {
    if (negative ? v > 1n << 63n : v >= 1n << 63n) return ERANGE;
    out = negative ? -v : v;
  } else if (negative) {
    return EINVAL;
  }
  const o = new Uint8Array(8);
  new DataView(o.buffer).setBigUint64(0, BigInt.asUintN(64, out), true);
  if (!call.write(res, o)) return EFAULT;
  return BigInt(consumed + p);
}

/**
 * copy_from_kernel_nofault_allowed (x86-64, 48-bit addresses): only canonical kernel-half addresses, not the
 * vsyscall page. A user address (also a 32-bit arena pointer) makes the probe_read helpers return -ERANGE.
 */
export function kernelReadAllowed(addr: bigint): boolean {
  const a = BigInt.asUintN(64, addr);
  return a >= 0xffff_8000_0000_0000n && (a & ~0xfffn) !== 0xffff_ffff_ff60_0000n;
}

function probeRead(call: HelperCall, str: boolean): bigint {
  const [dst, size, src] = call.args as [bigint, bigint, bigint];
  const n = memSize(BigInt(u32(size))); // u32 size
  const zero = new Uint8Array(n);
  if (str && n === 0) return 0n;
  if (!kernelReadAllowed(src)) {
    call.write(dst, zero); // refused before any access; the helper clears dst on every error
    return ERANGE;
  }
  if (!str) {
    const bytes = call.read(src, n);
    if (!bytes) {
      call.write(dst, zero);
      return EFAULT;
    }
    return call.write(dst, bytes) ? 0n : EFAULT;
  }
  // strncpy_from_kernel_nofault: copies byte by byte until a NUL or `n` bytes (the n-th is read, then
  // replaced by NUL); a fault clears the whole buffer (bpf_probe_read_kernel_str_common).
  const out = new Uint8Array(n);
  let i = 0;
  for (; i < n; i++) {
    const b = call.read(src + BigInt(i), 1);
    if (!b) {
      call.write(dst, zero);
      return EFAULT;
    }
    out[i] = b[0]!;
    if (b[0] === 0) break;
  }
  const len = Math.min(i + 1, n);
  out[len - 1] = 0;
  return call.write(dst, out.subarray(0, len)) ? BigInt(len) : EFAULT;
}

export const FAKE_PID_TGID = (4242n << 32n) | 4242n;
export const FAKE_CGROUP_ID = 1n;
export const FAKE_COMM = 'bpfjit';

/** Helper id → implementation. bpf_loop is guest code (see Engine), not here. */
export const HELPERS: ReadonlyMap<number, HelperFn> = new Map<number, HelperFn>([
  [HelperId.map_lookup_elem, (c) => {
    const m = mapOf(c);
    if (!m) return 0n;
    const key = c.read(c.args[1]!, m.spec.keySize);
    return key ? m.lookup(key) : 0n;
  }],
  [HelperId.map_update_elem, (c) => {
    const m = mapOf(c);
    if (!m) return EINVAL;
    const key = c.read(c.args[1]!, m.spec.keySize);
    const value = c.read(c.args[2]!, m.spec.valueSize);
    return key && value ? m.update(key, value, c.args[3]!) : EFAULT;
  }],
  [HelperId.map_delete_elem, (c) => {
    const m = mapOf(c);
    if (!m) return EINVAL;
    const key = c.read(c.args[1]!, m.spec.keySize);
    return key ? m.delete(key) : EFAULT;
  }],
  [HelperId.probe_read, (c) => probeRead(c, false)],
  [HelperId.probe_read_kernel, (c) => probeRead(c, false)],
  [HelperId.probe_read_kernel_str, (c) => probeRead(c, true)],
  [HelperId.ktime_get_ns, (c) => c.state.now()],
  [HelperId.ktime_get_boot_ns, (c) => c.state.now()],
  [HelperId.ktime_get_coarse_ns, (c) => c.state.now()],
  [HelperId.ktime_get_tai_ns, (c) => c.state.now() + 37_000_000_000n],
  [HelperId.trace_printk, (c) => printk(c, c.args[0]!, c.args[1]!, c.args.slice(2, 5))],
  [HelperId.trace_vprintk, (c) => {
    const n = u32(c.args[3]!);
    if (n % 8 !== 0 || n > 8 * 12) return EINVAL;
    const data = n > 0 ? c.read(c.args[2]!, n) : new Uint8Array(0);
    if (!data) return EFAULT;
    const dv = new DataView(data.buffer, data.byteOffset, data.length);
    const args = Array.from({ length: n / 8 }, (_, i) => dv.getBigUint64(i * 8, true));
    return printk(c, c.args[0]!, c.args[1]!, args);
  }],
  [HelperId.get_prandom_u32, (c) => c.state.random32()],
  [HelperId.get_smp_processor_id, () => 0n],
  [HelperId.get_numa_node_id, () => 0n],
  [HelperId.jiffies64, (c) => c.state.jiffies],
  [HelperId.get_current_pid_tgid, () => FAKE_PID_TGID],
  [HelperId.get_current_uid_gid, () => 0n],
  [HelperId.get_current_cgroup_id, () => FAKE_CGROUP_ID],
  // A zeroed stand-in for `current` (LAYOUT.task, mapped by the engine).
  [HelperId.get_current_task, () => LAYOUT.task],
  [HelperId.get_current_comm, (c) => {
    // strscpy_pad(buf, comm, size): nothing to write for size 0 (the verifier requires size > 0).
    const n = memSize(BigInt(u32(c.args[1]!)));
    if (n === 0) return 0n;
    const out = new Uint8Array(n);
    out.set(Buffer.from(FAKE_COMM).subarray(0, n - 1));
    return c.write(c.args[0]!, out) ? 0n : EFAULT;
  }],
  [HelperId.strtol, (c) => strto(c, true)],
  [HelperId.strtoul, (c) => strto(c, false)],
]);

/** kfunc name → implementation: the arena kfuncs go to the connected arena (src/arena's semantics). */
export const KFUNCS: ReadonlyMap<string, HelperFn> = new Map<string, HelperFn>(
  ['bpf_arena_alloc_pages', 'bpf_arena_free_pages', 'bpf_arena_reserve_pages'].map((name) => [
    name,
    (c: HelperCall): bigint => {
      const fn = c.state.arena?.[name];
      if (!fn) throw new Error('no arena is connected');
      return fn(c.args);
    },
  ]),
);

/** bpf_loop's limit (BPF_MAX_LOOPS) and error codes, used by the guest-code implementation. */
export const BPF_MAX_LOOPS = 1 << 23;
export const LOOP_ERRORS = { EINVAL, E2BIG } as const;
