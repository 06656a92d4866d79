// src/kernel — the host's bpf() syscall as an oracle. This file: the raw libc calls (syscall, mmap, munmap,
// close) through koffi, native buffers whose addresses can go into bpf_attr, errno names, and the one check
// that decides whether bpf() can be used here at all.
import koffi from 'koffi';

/** x86-64 syscall number of bpf(). */
export const SYS_BPF = 321;

const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: 'EPERM', 2: 'ENOENT', 4: 'EINTR', 7: 'E2BIG', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES',
  14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST', 22: 'EINVAL', 24: 'EMFILE', 28: 'ENOSPC', 34: 'ERANGE',
  38: 'ENOSYS', 95: 'EOPNOTSUPP', 524: 'ENOTSUPP',
};

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/** bpf() (or mmap) failed with an errno. */
export class SyscallError extends Error {
  constructor(
    readonly op: string,
    readonly errno: number,
    detail = '',
  ) {
    super(`${op} failed: ${errnoName(errno)}${detail ? `: ${detail}` : ''}`);
    this.name = 'SyscallError';
  }
}

/** bpf() cannot be used on this host (not Linux x86-64, no privilege, disabled, or forced off). */
export class BpfUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`bpf() not permitted: ${reason}`);
    this.name = 'BpfUnavailableError';
  }
}

type NativePtr = unknown;

interface Libc {
  syscall: (nr: number, ...args: unknown[]) => number | bigint;
  mmap: (addr: bigint, len: number, prot: number, flags: number, fd: number, off: number) => NativePtr;
  munmap: (addr: NativePtr, len: number) => number;
  close: (fd: number) => number;
  getAffinity: (pid: number, size: number, mask: NativePtr) => number;
  setAffinity: (pid: number, size: number, mask: NativePtr) => number;
}

let libc: Libc | null = null;

function lib(): Libc {
  if (libc) return libc;
  const h = koffi.load('libc.so.6');
  libc = {
    syscall: h.func('long syscall(long nr, ...)') as Libc['syscall'],
    mmap: h.func('void *mmap(uintptr_t addr, size_t len, int prot, int flags, int fd, long off)') as Libc['mmap'],
    munmap: h.func('int munmap(void *addr, size_t len)') as Libc['munmap'],
    close: h.func('int close(int fd)') as Libc['close'],
    getAffinity: h.func('int sched_getaffinity(int pid, size_t size, void *mask)') as Libc['getAffinity'],
    setAffinity: h.func('int sched_setaffinity(int pid, size_t size, void *mask)') as Libc['setAffinity'],
  };
  return libc;
}

/** Native memory whose address can be written into bpf_attr; `bytes` views it. Free it with free(). */
export class NativeBuffer {
  readonly ptr: NativePtr;
  readonly addr: bigint;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  private freed = false;
  constructor(readonly size: number) {
    const n = Math.max(size, 8);
    this.ptr = koffi.alloc('uint8_t', n);
    this.addr = koffi.address(this.ptr);
    const ab = koffi.view(this.ptr, n);
    this.bytes = new Uint8Array(ab, 0, size);
    this.view = new DataView(ab);
    this.bytes.fill(0);
  }
  static from(data: Uint8Array): NativeBuffer {
    const b = new NativeBuffer(data.length);
    b.bytes.set(data);
    return b;
  }
  /** A copy of the contents as a Node-owned array. */
  copy(len = this.size): Uint8Array {
    return this.bytes.slice(0, len);
  }
  free(): void {
    if (this.freed) return;
    this.freed = true;
    koffi.free(this.ptr);
  }
}

/** Runs fn with the buffers and frees them afterwards, also when fn throws. */
export function withBuffers<T>(bufs: NativeBuffer[], fn: () => T): T {
  try {
    return fn();
  } finally {
    for (const b of bufs) b.free();
  }
}

/** bpf(cmd, attr, size): returns the (non-negative) result or throws SyscallError. */
export function bpf(cmd: number, attr: NativeBuffer, op: string): number {
  const l = lib();
  const r = Number(l.syscall(SYS_BPF, 'int', cmd, 'void *', attr.ptr, 'uint', attr.size));
  if (r < 0) throw new SyscallError(op, koffi.errno());
  return r;
}

const CPU_SET_BYTES = 128;

/**
 * Runs fn with the calling thread pinned to CPU 0 (then restores its CPU set), so that what a program reads
 * of "the current CPU" is reproducible (the emulator is CPU 0). Runs fn unpinned where CPU 0 is not allowed.
 */
export function onCpu0<T>(fn: () => T): T {
  const l = lib();
  const old = new NativeBuffer(CPU_SET_BYTES);
  const cpu0 = new NativeBuffer(CPU_SET_BYTES);
  return withBuffers([old, cpu0], () => {
    cpu0.bytes[0] = 1;
    const pinned = l.getAffinity(0, CPU_SET_BYTES, old.ptr) === 0 && l.setAffinity(0, CPU_SET_BYTES, cpu0.ptr) === 0;
    try {
      return fn();
    } finally {
      if (pinned) l.setAffinity(0, CPU_SET_BYTES, old.ptr);
    }
  });
}

export function closeFd(fd: number): void {
  if (fd >= 0) lib().close(fd);
}

/** A shared mapping of a file descriptor (the arena). `bytes` views all of it. */
export interface Mapping {
  readonly ptr: NativePtr;
  readonly addr: bigint;
  readonly len: number;
  readonly bytes: Uint8Array;
}

const PROT_READ_WRITE = 3;
const MAP_SHARED = 0x01;
const MAP_FIXED_NOREPLACE = 0x100000;

/** mmap(addr, len, RW, MAP_SHARED[|MAP_FIXED_NOREPLACE], fd, 0). addr 0 lets the kernel choose. */
export function mmapShared(fd: number, len: number, addr: bigint): Mapping {
  const l = lib();
  const flags = MAP_SHARED | (addr === 0n ? 0 : MAP_FIXED_NOREPLACE);
  const ptr = l.mmap(addr, len, PROT_READ_WRITE, flags, fd, 0);
  const got = koffi.address(ptr);
  if (got === 0xffffffffffffffffn) throw new SyscallError(`mmap of ${len} bytes at 0x${addr.toString(16)}`, koffi.errno());
  return { ptr, addr: got, len, bytes: new Uint8Array(koffi.view(ptr, len)) };
}

export function munmap(m: Mapping): void {
  lib().munmap(m.ptr, m.len);
}

let availability: { ok: true } | { ok: false; reason: string } | null = null;

/**
 * Whether bpf() works here. BPFJIT_NO_BPF=1 forces the "not permitted" path (for tests and users who
 * want to be sure nothing is loaded). The probe loads `r0 = 0; exit` as a sleepable syscall program.
 */
export function bpfAvailability(): { ok: true } | { ok: false; reason: string } {
  if (process.env.BPFJIT_NO_BPF && process.env.BPFJIT_NO_BPF !== '0') return { ok: false, reason: 'disabled by BPFJIT_NO_BPF' };
  if (availability) return availability;
  availability = probe();
  return availability;
}

function probe(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: `ENOSYS (bpf() exists only on Linux, this is ${process.platform})` };
  if (process.arch !== 'x64') return { ok: false, reason: `ENOSYS (bpfjit's kernel oracle needs x86-64, this is ${process.arch})` };
  let l: Libc;
  try {
    l = lib();
  } catch (e) {
    return { ok: false, reason: `cannot load libc: ${(e as Error).message}` };
  }
  const insns = NativeBuffer.from(new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]));
  const license = NativeBuffer.from(new TextEncoder().encode('GPL\0'));
  const attr = new NativeBuffer(144);
  try {
    attr.view.setUint32(0, 31, true); // BPF_PROG_TYPE_SYSCALL
    attr.view.setUint32(4, 2, true);
    attr.view.setBigUint64(8, insns.addr, true);
    attr.view.setBigUint64(16, license.addr, true);
    attr.view.setUint32(44, 1 << 4, true); // BPF_F_SLEEPABLE
    const fd = Number(l.syscall(SYS_BPF, 'int', 5, 'void *', attr.ptr, 'uint', attr.size));
    if (fd < 0) {
      const errno = koffi.errno();
      const hint = errno === 1 || errno === 13 ? ' (needs root or CAP_BPF+CAP_PERFMON)' : errno === 38 ? ' (kernel without bpf())' : '';
      return { ok: false, reason: `${errnoName(errno)}${hint}` };
    }
    l.close(fd);
    return { ok: true };
  } finally {
    insns.free();
    license.free();
    attr.free();
  }
}

/** Throws BpfUnavailableError unless bpf() works here. */
export function requireBpf(): void {
  const a = bpfAvailability();
  if (!a.ok) throw new BpfUnavailableError(a.reason);
}
