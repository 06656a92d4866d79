// Linux helper functions for the interpreter, by helper id. The ones that compute something
// (probe_read_kernel[_str], strtol, strtoul) follow kernel/bpf/helpers.c and mm/maccess.c; the ones that
// report the environment (time, random, current task, CPU) return fixed values, documented here.
import type { HelperCall, HelperFn } from './interp.js';
import { Fault, type Memory } from './memory.js';
import { tracePrintk } from '../isa/printk.js';

const EINVAL = -22n;
const EFAULT = -14n;
const ERANGE = -34n;

/** Fixed answers of the environment helpers (a run is reproducible; the kernel's values vary). */
export const FIXED_HELPER_VALUES = {
  ktime_ns: 1_000_000_000n,
  prandom_u32: 0x12345678n,
  smp_processor_id: 0n,
  pid_tgid: (1000n << 32n) | 1000n,
  uid_gid: 0n,
  current_task: 0xffff_8880_0100_0000n,
  numa_node_id: 0n,
  cgroup_id: 1n,
  jiffies64: 4_294_967_296n,
} as const;

/**
 * KMALLOC_MAX_SIZE on x86-64 (4 MiB) bounds every memory region a program can pass to a helper (map values;
 * the stack and the context are smaller), so the verifier never lets a larger size through. A larger one stops
 * the run with a helper fault instead of making the host allocate it (the emulator does the same).
 */
export const HELPER_MEM_MAX = 4 << 20;

function memSize(helper: string, size: bigint): number {
  const n = BigInt.asUintN(64, size);
  if (n > BigInt(HELPER_MEM_MAX)) {
    throw new Fault(`helper ${helper}: size ${n} is larger than any memory region a program can pass to a helper (${HELPER_MEM_MAX} bytes, KMALLOC_MAX_SIZE)`);
  }
  return Number(n);
}

/** Reads bytes the way the kernel's nofault copy does: null when any byte is not readable. */
function tryRead(memory: Memory, addr: bigint, length: number): Uint8Array | null {
  if (!memory.accessible(addr, length, false)) return null;
  return memory.readBytes(addr, length);
}

/** Writes a helper's output: all of it, or nothing (-EFAULT) when any byte is not writable program memory. */
function tryWrite(memory: Memory, addr: bigint, bytes: Uint8Array): boolean {
  if (!memory.accessible(addr, bytes.length, true)) return false;
  memory.writeBytes(addr, bytes);
  return true;
}

const u32arg = (v: bigint): number => Number(BigInt.asUintN(32, v));

/**
 * copy_from_kernel_nofault_allowed (x86-64) refuses user addresses with -ERANGE: anything below the canonical
 * kernel half (also a 32-bit arena pointer) or the vsyscall page. The interpreter's own regions stand for kernel
 * memory wherever they are placed.
 */
function userAddress(memory: Memory, addr: bigint): boolean {
  const a = BigInt.asUintN(64, addr);
  if (memory.accessible(a, 1, false)) return false;
  return a < 0xffff_8000_0000_0000n || (a & ~0xfffn) === 0xffff_ffff_ff60_0000n;
}

// long bpf_probe_read_kernel(void *dst, u32 size, const void *unsafe_ptr)
const probeReadKernel: HelperFn = ({ args, memory }) => {
  const [dst, size, src] = args;
  const n = memSize('bpf_probe_read_kernel#113', BigInt(u32arg(size)));
  const data = userAddress(memory, src) ? null : tryRead(memory, src, n);
  if (!data) {
    tryWrite(memory, dst, new Uint8Array(n)); // dst is cleared on every error
    return userAddress(memory, src) ? ERANGE : EFAULT;
  }
  return tryWrite(memory, dst, data) ? 0n : EFAULT;
};

// long bpf_probe_read_kernel_str(void *dst, u32 size, const void *unsafe_ptr): strncpy_from_kernel_nofault
// copies until a NUL or `size` bytes (the last one read is replaced by NUL).
const probeReadKernelStr: HelperFn = ({ args, memory }) => {
  const [dst, size, src] = args;
  const n = memSize('bpf_probe_read_kernel_str#115', BigInt(u32arg(size)));
  if (n === 0) return 0n;
  if (userAddress(memory, src)) {
    tryWrite(memory, dst, new Uint8Array(n));
    return ERANGE;
  }
  const out: number[] = [];
  for (;;) {
    const b = tryRead(memory, src + BigInt(out.length), 1);
    if (!b) {
      tryWrite(memory, dst, new Uint8Array(n)); // the helper clears the whole buffer on a fault
      return EFAULT;
    }
    out.push(b[0]!);
    if (b[0] === 0 || out.length === n) break;
  }
  out[out.length - 1] = 0; // truncated strings end with NUL too
  return tryWrite(memory, dst, Uint8Array.from(out)) ? BigInt(out.length) : EFAULT;
};

/** __bpf_strtoull: returns consumed characters or a negative errno, with the value and its sign. */
function strtoull(call: HelperCall, name: string): { err: bigint; value: bigint; negative: boolean } {
  const [buf, bufLen, flags] = call.args;
  const fail = (err: bigint) => ({ err, value: 0n, negative: false });
  let base = Number(flags & 0x1fn);
  const len = memSize(name, bufLen); // size_t
  if (buf === 0n || len === 0) return fail(EINVAL);
  if (base !== 0 && base !== 8 && base !== 10 && base !== 16) return fail(EINVAL);
  if ((flags & ~0x1fn) !== 0n) return fail(EINVAL);
  const bytes = tryRead(call.memory, buf, len);
  if (!bytes) return fail(EFAULT);
  let i = 0;
  while (i < len && [0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0xa0].includes(bytes[i]!)) i++; // the kernel's isspace()
  const negative = i < len && bytes[i] === 0x2d;
  if (negative) i++;
  if (i === len) return fail(EINVAL);
  // A NUL-terminated copy of at most 63 characters.
  const s = Array.from(bytes.subarray(i, i + Math.min(len - i, 63)));
  const end = s.indexOf(0);
  const str = end >= 0 ? s.slice(0, end) : s;
  const lower = (c: number | undefined): number => (c !== undefined && c >= 0x41 && c <= 0x5a ? c + 32 : (c ?? 0));
  const isHex = (c: number | undefined): boolean => /[0-9a-fA-F]/.test(String.fromCharCode(c ?? 0));
  let p = 0;
  if (base === 0) {
    if (str[0] === 0x30) base = lower(str[1]) === 0x78 && isHex(str[2]) ? 16 : 8;
    else base = 10;
  }
  if (base === 16 && str[0] === 0x30 && lower(str[1]) === 0x78) p = 2;
  let value = 0n;
  let digits = 0;
  let overflow = false;
  for (; p < str.length; p++, digits++) {
    const c = lower(str[p]);
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x61 + 10 : 99;
    if (d >= base) break;
    value = value * BigInt(base) + BigInt(d);
    if (value >= 1n << 64n) overflow = true;
    value = BigInt.asUintN(64, value);
  }
  if (overflow) return fail(ERANGE);
  if (digits === 0) return fail(EINVAL);
  return { err: BigInt(i + p), value, negative };
}

/** *res = value (8 bytes, little-endian), or false when res is not writable program memory. */
function storeResult(call: HelperCall, value: bigint): boolean {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value, true);
  return tryWrite(call.memory, call.args[3], out);
}

// long bpf_strtol(const char *buf, size_t buf_len, u64 flags, long *res)
const strtol: HelperFn = (call) => {
  const { err, value, negative } = strtoull(call, 'bpf_strtol#105');
  if (err < 0n) return err;
  const v = negative ? BigInt.asIntN(64, -value) : BigInt.asIntN(64, value);
  if (negative ? BigInt.asIntN(64, BigInt.asUintN(64, -value)) > 0n : v < 0n) return ERANGE;
  return storeResult(call, BigInt.asUintN(64, v)) ? err : EFAULT;
};

// long bpf_strtoul(const char *buf, size_t buf_len, u64 flags, unsigned long *res)
const strtoul: HelperFn = (call) => {
  const { err, value, negative } = strtoull(call, 'bpf_strtoul#106');
  if (err < 0n) return err;
  if (negative) return EINVAL;
  return storeResult(call, value) ? err : EFAULT;
};

const fixed = (v: bigint): HelperFn => () => v;

// long bpf_get_current_comm(void *buf, u32 size_of_buf): a fixed task name.
const getCurrentComm: HelperFn = ({ args, memory }) => {
  const n = memSize('bpf_get_current_comm#16', BigInt(u32arg(args[1])));
  const name = new Uint8Array(n);
  name.set(Buffer.from('bpfjit').subarray(0, Math.max(0, n - 1)));
  return tryWrite(memory, args[0], name) ? 0n : EFAULT;
};

// long bpf_trace_printk(const char *fmt, u32 fmt_size, ...): the kernel's format subset (src/isa/printk.ts),
// lines kept in memory.printed.
const tracePrintkHelper: HelperFn = ({ args, memory }) => {
  const read = (addr: bigint, size: number): Uint8Array | null => {
    try {
      return memory.readBytes(addr, size);
    } catch {
      return null;
    }
  };
  return tracePrintk(read, memory.printed, args[0], args[1], args.slice(2, 5));
};

/** Helper ids → implementations (the ones the project's corpora use). */
export const LINUX_HELPERS: Readonly<Record<number, HelperFn>> = {
  6: tracePrintkHelper, // bpf_trace_printk
  5: fixed(FIXED_HELPER_VALUES.ktime_ns), // bpf_ktime_get_ns
  7: fixed(FIXED_HELPER_VALUES.prandom_u32), // bpf_get_prandom_u32
  8: fixed(FIXED_HELPER_VALUES.smp_processor_id), // bpf_get_smp_processor_id
  14: fixed(FIXED_HELPER_VALUES.pid_tgid), // bpf_get_current_pid_tgid
  15: fixed(FIXED_HELPER_VALUES.uid_gid), // bpf_get_current_uid_gid
  16: getCurrentComm, // bpf_get_current_comm
  35: fixed(FIXED_HELPER_VALUES.current_task), // bpf_get_current_task
  42: fixed(FIXED_HELPER_VALUES.numa_node_id), // bpf_get_numa_node_id
  80: fixed(FIXED_HELPER_VALUES.cgroup_id), // bpf_get_current_cgroup_id
  105: strtol, // bpf_strtol
  106: strtoul, // bpf_strtoul
  113: probeReadKernel, // bpf_probe_read_kernel
  115: probeReadKernelStr, // bpf_probe_read_kernel_str
  118: fixed(FIXED_HELPER_VALUES.jiffies64), // bpf_jiffies64
  125: fixed(FIXED_HELPER_VALUES.ktime_ns), // bpf_ktime_get_boot_ns
  208: fixed(FIXED_HELPER_VALUES.ktime_ns), // bpf_ktime_get_tai_ns
};
