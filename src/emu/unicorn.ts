// src/emu — Unicorn 2 bindings (libunicorn.so.2 through koffi) and native page memory (libc mmap).
// Only what the engine needs; every call is checked and turned into an Error with uc_strerror's text.
import koffi, { type LibraryHandle, type TypeObject } from 'koffi';

const LIB_PATHS = ['/usr/lib/x86_64-linux-gnu/libunicorn.so.2', 'libunicorn.so.2', 'libunicorn.so'];

export const UC = {
  ARCH_X86: 4,
  MODE_64: 1 << 3,
  PROT_READ: 1,
  PROT_WRITE: 2,
  PROT_EXEC: 4,
  PROT_ALL: 7,
  HOOK_CODE: 1 << 2,
  HOOK_MEM_READ_UNMAPPED: 1 << 4,
  HOOK_MEM_WRITE_UNMAPPED: 1 << 5,
  HOOK_MEM_WRITE: 1 << 11,
  HOOK_MEM_FETCH_UNMAPPED: 1 << 6,
  HOOK_MEM_READ_PROT: 1 << 7,
  HOOK_MEM_WRITE_PROT: 1 << 8,
  HOOK_MEM_FETCH_PROT: 1 << 9,
  HOOK_INSN_INVALID: 1 << 14,
  /** uc_mem_type values passed to memory hooks. */
  MEM_READ_UNMAPPED: 19,
  MEM_WRITE_UNMAPPED: 20,
  MEM_FETCH_UNMAPPED: 21,
  MEM_WRITE_PROT: 22,
  MEM_READ_PROT: 23,
  MEM_FETCH_PROT: 24,
  /** uc_ctl controls: type | nr << 26 | IO_WRITE << 30. */
  CTL_CPU_MODEL_SET: 7 | (1 << 26) | (1 << 30),
  CTL_TB_REMOVE_CACHE: 9 | (2 << 26) | (1 << 30),
  CTL_TB_FLUSH: 10 | (1 << 30),
  CPU_X86_HASWELL: 19,
  ERR_OK: 0,
  ERR_READ_UNMAPPED: 6,
  ERR_WRITE_UNMAPPED: 7,
  ERR_FETCH_UNMAPPED: 8,
  ERR_INSN_INVALID: 10,
  ERR_WRITE_PROT: 12,
  ERR_READ_PROT: 13,
  ERR_FETCH_PROT: 14,
  ERR_EXCEPTION: 21,
} as const;

/** uc_x86_reg numbers (Unicorn 2.0.x enum order). */
export const X86 = {
  EFLAGS: 25,
  GS: 33,
  RAX: 35,
  RBP: 36,
  RBX: 37,
  RCX: 38,
  RDI: 39,
  RDX: 40,
  RIP: 41,
  RSI: 43,
  RSP: 44,
  R8: 106,
  R9: 107,
  R10: 108,
  R11: 109,
  R12: 110,
  R13: 111,
  R14: 112,
  R15: 113,
  GS_BASE: 251,
} as const;

/** Unicorn register id of each x86 register number as encoded (0 = rax … 15 = r15). */
export const GPR_IDS: readonly number[] = [
  X86.RAX, X86.RCX, X86.RDX, X86.RBX, X86.RSP, X86.RBP, X86.RSI, X86.RDI,
  X86.R8, X86.R9, X86.R10, X86.R11, X86.R12, X86.R13, X86.R14, X86.R15,
];
export const GPR_NAMES: readonly string[] = [
  'rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
];

/** Opaque native handle (uc_engine *, uc_hook, host memory). */
export type NativePtr = unknown;

export type CodeHookFn = (address: bigint, size: number) => void;
/** Return true to resolve the access (the engine retries/continues), false to stop with an error. */
export type MemHookFn = (type: number, address: bigint, size: number, value: bigint) => boolean;

interface Lib {
  uc_open: (arch: number, mode: number, out: NativePtr[]) => number;
  uc_close: (uc: NativePtr) => number;
  uc_strerror: (err: number) => string;
  uc_ctl: (uc: NativePtr, control: number, ...args: unknown[]) => number;
  uc_mem_map: (uc: NativePtr, addr: bigint, size: number, perms: number) => number;
  uc_mem_map_ptr: (uc: NativePtr, addr: bigint, size: number, perms: number, ptr: bigint) => number;
  uc_mem_unmap: (uc: NativePtr, addr: bigint, size: number) => number;
  uc_mem_protect: (uc: NativePtr, addr: bigint, size: number, perms: number) => number;
  uc_mem_write: (uc: NativePtr, addr: bigint, bytes: Uint8Array, size: number) => number;
  uc_mem_read: (uc: NativePtr, addr: bigint, bytes: Uint8Array, size: number) => number;
  uc_reg_write: (uc: NativePtr, reg: number, value: Uint8Array) => number;
  uc_reg_read: (uc: NativePtr, reg: number, value: Uint8Array) => number;
  uc_reg_read_batch: (uc: NativePtr, regs: Int32Array, vals: NativePtr, count: number) => number;
  uc_reg_write_batch: (uc: NativePtr, regs: Int32Array, vals: NativePtr, count: number) => number;
  uc_emu_start: (uc: NativePtr, begin: bigint, until: bigint, timeoutUs: number, count: number) => number;
  uc_emu_stop: (uc: NativePtr) => number;
  uc_hook_add: (uc: NativePtr, out: bigint[], type: number, cb: bigint, userData: number, begin: bigint, end: bigint, ...rest: unknown[]) => number;
  uc_hook_del: (uc: NativePtr, hook: bigint) => number;
  dlsym: (handle: null, name: string) => NativePtr;
  mmap: (addr: null, len: number, prot: number, flags: number, fd: number, off: number) => NativePtr;
  munmap: (ptr: NativePtr, len: number) => number;
}

let lib: Lib | null = null;
let loadedPath = LIB_PATHS[0]!;
let codeProto: TypeObject;
let memProto: TypeObject;

function load(): Lib {
  if (lib) return lib;
  let handle: LibraryHandle | null = null;
  const errors: string[] = [];
  for (const p of LIB_PATHS) {
    try {
      handle = koffi.load(p);
      loadedPath = p;
      break;
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (!handle) throw new Error(`cannot load Unicorn (install libunicorn2): ${errors[0] ?? ''}`);
  const libc = koffi.load('libc.so.6');
  koffi.opaque('uc_engine');
  codeProto = koffi.proto('void bpfjit_uc_code_cb(void *uc, uint64_t address, uint32_t size, intptr_t user)');
  memProto = koffi.proto('bool bpfjit_uc_mem_cb(void *uc, int type, uint64_t address, int size, int64_t value, intptr_t user)');
  const f = (decl: string) => handle!.func(decl);
  lib = {
    uc_open: f('int uc_open(int arch, int mode, _Out_ uc_engine **uc)'),
    uc_close: f('int uc_close(uc_engine *uc)'),
    uc_strerror: f('const char *uc_strerror(int err)'),
    uc_ctl: f('int uc_ctl(uc_engine *uc, int control, ...)'),
    uc_mem_map: f('int uc_mem_map(uc_engine *uc, uint64_t address, size_t size, uint32_t perms)'),
    uc_mem_map_ptr: f('int uc_mem_map_ptr(uc_engine *uc, uint64_t address, size_t size, uint32_t perms, uintptr_t ptr)'),
    uc_mem_unmap: f('int uc_mem_unmap(uc_engine *uc, uint64_t address, size_t size)'),
    uc_mem_protect: f('int uc_mem_protect(uc_engine *uc, uint64_t address, size_t size, uint32_t perms)'),
    uc_mem_write: f('int uc_mem_write(uc_engine *uc, uint64_t address, const void *bytes, size_t size)'),
    uc_mem_read: f('int uc_mem_read(uc_engine *uc, uint64_t address, _Out_ void *bytes, size_t size)'),
    uc_reg_write: f('int uc_reg_write(uc_engine *uc, int regid, const void *value)'),
    uc_reg_read: f('int uc_reg_read(uc_engine *uc, int regid, _Out_ void *value)'),
    uc_reg_read_batch: f('int uc_reg_read_batch(uc_engine *uc, int *regs, void *vals, int count)'),
    uc_reg_write_batch: f('int uc_reg_write_batch(uc_engine *uc, int *regs, void *vals, int count)'),
    uc_emu_start: f('int uc_emu_start(uc_engine *uc, uint64_t begin, uint64_t until, uint64_t timeout, size_t count)'),
    uc_emu_stop: f('int uc_emu_stop(uc_engine *uc)'),
    uc_hook_add: f('int uc_hook_add(uc_engine *uc, _Out_ size_t *hh, int type, uintptr_t callback, intptr_t user_data, uint64_t begin, uint64_t end, ...)'),
    uc_hook_del: f('int uc_hook_del(uc_engine *uc, size_t hh)'),
    dlsym: libc.func('void *dlsym(void *handle, const char *name)'),
    mmap: libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, intptr_t off)'),
    munmap: libc.func('int munmap(void *addr, size_t len)'),
  } as unknown as Lib;
  return lib;
}

/** Unicorn errors (a bug or an environment problem, not bad user input). */
export class UnicornError extends Error {
  constructor(readonly code: number, what: string) {
    super(`${what}: ${load().uc_strerror(code)} (uc_err ${code})`);
    this.name = 'UnicornError';
  }
}

function check(code: number, what: string): void {
  if (code !== UC.ERR_OK) throw new UnicornError(code, what);
}

/** A block of page-aligned, zeroed host memory (mmap), viewable from JS and mappable into the guest. */
export class HostMemory {
  readonly bytes: Uint8Array;
  private ptr: NativePtr | null;
  constructor(readonly size: number) {
    const l = load();
    // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
    const p = l.mmap(null, size, 3, 0x22, -1, 0);
    if (p === null || koffi.address(p) === 0xffffffffffffffffn) throw new Error(`mmap of ${size} bytes failed`);
    this.ptr = p;
    this.bytes = new Uint8Array(koffi.view(p, size));
  }
  get native(): NativePtr {
    if (this.ptr === null) throw new Error('host memory used after release');
    return this.ptr;
  }
  get address(): bigint {
    return koffi.address(this.native);
  }
  release(): void {
    if (this.ptr === null) return;
    load().munmap(this.ptr, this.size);
    this.ptr = null;
  }
}

// koffi allows a limited number of registered callbacks: register one code and one memory callback for the
// whole process and dispatch on user_data (one id per hook).
let nextHookId = 1;
const codeHooks = new Map<number, CodeHookFn>();
const memHooks = new Map<number, MemHookFn>();
let codeCb: bigint | null = null;
let memCb: bigint | null = null;
let noopCb: bigint | null = null;

function callbacks(): { code: bigint; mem: bigint } {
  load();
  if (codeCb === null) {
    codeCb = koffi.register((_uc: unknown, address: number | bigint, size: number, user: number) => {
      codeHooks.get(user)?.(BigInt.asUintN(64, BigInt(address)), size);
    }, koffi.pointer(codeProto));
    memCb = koffi.register((_uc: unknown, type: number, address: number | bigint, size: number, value: number | bigint, user: number) => {
      const fn = memHooks.get(user);
      return fn ? fn(type, BigInt.asUintN(64, BigInt(address)), size, BigInt.asUintN(64, BigInt(value))) : false;
    }, koffi.pointer(memProto));
  }
  return { code: codeCb, mem: memCb! };
}

interface HookRec {
  handle: bigint;
  id: number;
}

/** One Unicorn x86-64 engine. */
export class Unicorn {
  private uc: NativePtr | null;
  private readonly l: Lib;
  private readonly scratch = new Uint8Array(8);
  private readonly scratchView = new DataView(this.scratch.buffer);
  private readonly hooks = new Set<HookRec>();
  /** Native buffer for batched register access: values, then one pointer per value. */
  private batch: HostMemory | null = null;
  private batchPtrArg: NativePtr = null;

  constructor(cpuModel: number = UC.CPU_X86_HASWELL) {
    this.l = load();
    const out: NativePtr[] = [null];
    check(this.l.uc_open(UC.ARCH_X86, UC.MODE_64, out), 'uc_open');
    this.uc = out[0];
    // Haswell: BMI2 (shlx/shrx/sarx) as on the reference machine; must be set before anything else.
    check(this.l.uc_ctl(this.uc, UC.CTL_CPU_MODEL_SET, 'int', cpuModel), 'uc_ctl(cpu model)');
  }

  private get h(): NativePtr {
    if (this.uc === null) throw new Error('Unicorn engine used after close');
    return this.uc;
  }

  get handleAddress(): bigint {
    return koffi.address(this.h);
  }

  get closed(): boolean {
    return this.uc === null;
  }

  memMap(addr: bigint, size: number, perms: number): void {
    check(this.l.uc_mem_map(this.h, addr, size, perms), `uc_mem_map(0x${addr.toString(16)}, ${size})`);
  }
  /** Maps `size` bytes of host memory at native address `ptr` (must stay valid while mapped). */
  memMapPtr(addr: bigint, ptr: bigint, size: number, perms: number): void {
    check(this.l.uc_mem_map_ptr(this.h, addr, size, perms, ptr), `uc_mem_map_ptr(0x${addr.toString(16)}, ${size})`);
  }
  memUnmap(addr: bigint, size: number): void {
    check(this.l.uc_mem_unmap(this.h, addr, size), `uc_mem_unmap(0x${addr.toString(16)}, ${size})`);
  }
  memProtect(addr: bigint, size: number, perms: number): void {
    check(this.l.uc_mem_protect(this.h, addr, size, perms), `uc_mem_protect(0x${addr.toString(16)})`);
  }
  memWrite(addr: bigint, bytes: Uint8Array): void {
    check(this.l.uc_mem_write(this.h, addr, bytes, bytes.length), `uc_mem_write(0x${addr.toString(16)}, ${bytes.length})`);
  }
  memRead(addr: bigint, size: number): Uint8Array {
    const out = new Uint8Array(size);
    check(this.l.uc_mem_read(this.h, addr, out, size), `uc_mem_read(0x${addr.toString(16)}, ${size})`);
    return out;
  }
  /** Reads guest memory; null when any byte is unmapped. */
  tryMemRead(addr: bigint, size: number): Uint8Array | null {
    const out = new Uint8Array(size);
    return this.l.uc_mem_read(this.h, addr, out, size) === UC.ERR_OK ? out : null;
  }

  regRead(reg: number): bigint {
    check(this.l.uc_reg_read(this.h, reg, this.scratch), 'uc_reg_read');
    return this.scratchView.getBigUint64(0, true);
  }
  regWrite(reg: number, value: bigint): void {
    this.scratchView.setBigUint64(0, BigInt.asUintN(64, value), true);
    check(this.l.uc_reg_write(this.h, reg, this.scratch), 'uc_reg_write');
  }

  private batchBuffer(count: number): { mem: HostMemory; values: DataView } {
    if (!this.batch || this.batch.size < count * 16) {
      this.batch?.release();
      this.batch = new HostMemory(Math.max(4096, count * 16));
      const ptrs = new DataView(this.batch.bytes.buffer, this.batch.bytes.byteOffset);
      const base = this.batch.address;
      const n = this.batch.size / 16;
      for (let i = 0; i < n; i++) ptrs.setBigUint64(n * 8 + i * 8, base + BigInt(i * 8), true);
      this.batchPtrArg = koffi.as(Number(base) + this.batch.size / 2, 'void *');
    }
    return { mem: this.batch, values: new DataView(this.batch.bytes.buffer, this.batch.bytes.byteOffset) };
  }
  private batchPtrs(): NativePtr {
    return this.batchPtrArg;
  }

  /** Reads several registers in one native call. */
  regReadBatch(regs: Int32Array): bigint[] {
    const { values } = this.batchBuffer(regs.length);
    check(this.l.uc_reg_read_batch(this.h, regs, this.batchPtrs(), regs.length), 'uc_reg_read_batch');
    const out: bigint[] = [];
    for (let i = 0; i < regs.length; i++) out.push(values.getBigUint64(i * 8, true));
    return out;
  }
  regWriteBatch(regs: Int32Array, vals: readonly bigint[]): void {
    const { values } = this.batchBuffer(regs.length);
    for (let i = 0; i < regs.length; i++) values.setBigUint64(i * 8, BigInt.asUintN(64, vals[i]!), true);
    check(this.l.uc_reg_write_batch(this.h, regs, this.batchPtrs(), regs.length), 'uc_reg_write_batch');
  }

  /** Runs from `begin` until `until` is reached; returns the uc_err code (0 = reached `until` or stopped). */
  emuStart(begin: bigint, until: bigint, timeoutUs = 0, count = 0): number {
    return this.l.uc_emu_start(this.h, begin, until, timeoutUs, count);
  }
  emuStop(): void {
    check(this.l.uc_emu_stop(this.h), 'uc_emu_stop');
  }

  /** Code hook on [begin, end] (inclusive); Unicorn only instruments instructions in that range. */
  hookCode(begin: bigint, end: bigint, fn: CodeHookFn): HookRec {
    const id = nextHookId++;
    codeHooks.set(id, fn);
    return this.addHook(UC.HOOK_CODE, callbacks().code, id, begin, end);
  }
  /**
   * A code hook whose callback is native and does nothing (libc labs reads its first argument and returns;
   * no system call, unlike getpid): its only effect is that Unicorn syncs RIP before the instruction, so a
   * fault there reports the exact address.
   */
  hookCodeNoop(begin: bigint, end: bigint): HookRec {
    if (noopCb === null) noopCb = koffi.address(this.l.dlsym(null, 'labs'));
    return this.addHook(UC.HOOK_CODE, noopCb, 0, begin, end);
  }
  hookMem(types: number, fn: MemHookFn, begin = 1n, end = 0n): HookRec {
    const id = nextHookId++;
    memHooks.set(id, fn);
    return this.addHook(types, callbacks().mem, id, begin, end);
  }
  private addHook(type: number, cb: bigint, id: number, begin: bigint, end: bigint): HookRec {
    const out: bigint[] = [0n];
    const err = this.l.uc_hook_add(this.h, out, type, cb, id, begin, end);
    if (err !== UC.ERR_OK) {
      codeHooks.delete(id);
      memHooks.delete(id);
      check(err, 'uc_hook_add');
    }
    const rec = { handle: BigInt(out[0]!), id };
    this.hooks.add(rec);
    return rec;
  }
  hookDel(rec: HookRec): void {
    if (!this.hooks.delete(rec)) return;
    codeHooks.delete(rec.id);
    memHooks.delete(rec.id);
    check(this.l.uc_hook_del(this.h, rec.handle), 'uc_hook_del');
  }

  /** Drops translated code for [begin, end) (after rewriting code or changing hooks on it). */
  removeCache(begin: bigint, end: bigint): void {
    check(this.l.uc_ctl(this.h, UC.CTL_TB_REMOVE_CACHE, 'uint64_t', begin, 'uint64_t', end), 'uc_ctl(remove cache)');
  }
  flushTb(): void {
    check(this.l.uc_ctl(this.h, UC.CTL_TB_FLUSH), 'uc_ctl(tb flush)');
  }

  close(): void {
    if (this.uc === null) return;
    for (const rec of this.hooks) {
      codeHooks.delete(rec.id);
      memHooks.delete(rec.id);
    }
    this.hooks.clear();
    this.l.uc_close(this.uc);
    this.uc = null;
    this.batch?.release();
    this.batch = null;
  }
}

/** The Unicorn library file that was loaded (the watchdog worker loads the same). */
export function unicornLibPath(): string {
  load();
  return loadedPath;
}

/** The address of an engine's native handle. */
export function handleAddress(u: Unicorn): bigint {
  return u.handleAddress;
}

export function ucStrerror(code: number): string {
  return load().uc_strerror(code);
}
