// The arena map: its address layout, its pages and the kfunc semantics of Linux 6.18's kernel/bpf/arena.c.
// Pages are keyed by their kernel offset (the lower 32 bits of their user address), exactly like the kernel's
// vm area; the free set is a RangeTree of user page offsets (pgoff). Listeners learn about every page that
// appears or disappears so the emulator can map/unmap it at both addresses.
import {
  ArenaFlag, clearLo32, DEFAULT_KERN_VM_START, DEFAULT_MMAP_TOP, Errno, GUARD_SZ, KERN_VM_SZ, lower32, NUMA_NO_NODE,
  PAGE_SHIFT, PAGE_SIZE,
} from './constants.js';
import { type ArenaAttr, ArenaConfigError, placeUserRange, validateArenaAttr } from './config.js';
import { defaultPageMemory, type HostPage, type PageMemory } from './host.js';
import { ArenaFault } from './fault.js';
import { RangeTree } from './range-tree.js';
import { bigintToLe, leToBigint, readKern, readUser, readUserUint, writeKern, writeUser, writeUserUint } from './views.js';

const SHIFT = BigInt(PAGE_SHIFT);
const PAGE = BigInt(PAGE_SIZE);

/** One allocated arena page, visible at kernAddr (kernel view) and userAddr (user view). */
export interface ArenaPage {
  /** Page offset in the user mapping (the corpus' pgoff). */
  readonly pgoff: number;
  /** Kernel page index: lower 32 bits of the user address >> 12. */
  readonly kidx: number;
  readonly kernAddr: bigint;
  /** Null when the page lies outside the user mapping (only after a kernel-quirk free of a foreign pointer). */
  readonly userAddr: bigint | null;
  readonly bytes: Uint8Array;
  /** Native address of the page's host memory (null with JavaScript-only memory). */
  readonly ptr: bigint | null;
}

/** Told about every page mapping change; onUnmap runs before the page's host memory is recycled. */
export interface ArenaListener {
  onMap?(page: ArenaPage): void;
  onUnmap?(page: ArenaPage): void;
}

export interface ArenaOptions {
  /** kern_vm_start (page aligned); the vm area starts GUARD_SZ / 2 below it. */
  readonly kernVmStart?: bigint;
  /** Address of the first mmap (the kernel's choice to reproduce); with map_extra it must equal map_extra. */
  readonly userVmStart?: bigint;
  /** Length of that mmap in bytes (default max_entries pages). */
  readonly mmapLength?: bigint;
  /** Do the first mmap now (default true, as user space does before running the program). */
  readonly mmap?: boolean;
  /** Top of the gap a kernel-chosen mmap lands below (at top - 2 * length). */
  readonly mmapTop?: bigint;
  /** Number of online NUMA nodes (valid node_id: NUMA_NO_NODE or 0 .. n-1); default 1. */
  readonly numaNodes?: number;
  /** Host memory for pages (default: native where available); the arena owns it and disposes it. */
  readonly memory?: PageMemory;
}

export class Arena {
  readonly maxEntries: number;
  readonly flags: number;
  readonly mapExtra: bigint;
  readonly kernVmStart: bigint;
  /** The kernel vm area [start, end): 4 GiB + 64 KiB, of which only allocated pages are mapped. */
  readonly kernVmArea: { readonly start: bigint; readonly end: bigint };
  private readonly numaNodes: number;
  private readonly mmapTop: bigint;
  private readonly memory: PageMemory;
  private readonly rt = new RangeTree();
  private readonly byKidx = new Map<number, PageRecord>();
  private readonly listeners = new Set<ArenaListener>();
  private userStart: bigint;
  private userEnd: bigint;
  private mappedOnce = false;
  private disposed = false;

  constructor(attr: ArenaAttr, opts: ArenaOptions = {}) {
    const range = validateArenaAttr(attr);
    this.maxEntries = attr.maxEntries;
    this.flags = attr.flags >>> 0;
    this.mapExtra = attr.mapExtra ?? 0n;
    const kvs = opts.kernVmStart ?? DEFAULT_KERN_VM_START;
    const areaStart = kvs - GUARD_SZ / 2n;
    if (kvs & (PAGE - 1n) || areaStart < 0n || areaStart + KERN_VM_SZ > 1n << 64n)
      throw new ArenaConfigError('EINVAL', `kern_vm_start 0x${kvs.toString(16)} is not a page-aligned address with room for the 4 GiB + 64 KiB area`);
    this.kernVmStart = kvs;
    this.kernVmArea = { start: areaStart, end: areaStart + KERN_VM_SZ };
    this.numaNodes = opts.numaNodes ?? 1;
    this.mmapTop = opts.mmapTop ?? DEFAULT_MMAP_TOP;
    this.memory = opts.memory ?? defaultPageMemory();
    // map_extra fixes the user range at creation; otherwise the first mmap does.
    this.userStart = this.mapExtra;
    this.userEnd = this.mapExtra ? this.mapExtra + range : 0n;
    this.rt.set(0, this.maxEntries);
    if (opts.mmap ?? true) this.mmap(opts.userVmStart || this.mapExtra, opts.mmapLength ?? range);
  }

  get userVmStart(): bigint {
    return this.userStart;
  }
  get userVmEnd(): bigint {
    return this.userEnd;
  }
  /** True once user space has mmapped the arena (user accesses need it). */
  get mmapped(): boolean {
    return this.mappedOnce;
  }

  get segvOnFault(): boolean {
    return (this.flags & ArenaFlag.SEGV_ON_FAULT) !== 0;
  }

  /**
   * mmap(addr, length, offset 0) of the map: fixes user_vm_start/end (arena_get_unmapped_area + arena_map_mmap).
   * With map_extra, addr must be map_extra (mmap(NULL) is EINVAL, as in the kernel).
   */
  mmap(addr = 0n, length: bigint = BigInt(this.maxEntries) * PAGE): { start: bigint; end: bigint } {
    // Once user_vm_start is known (map_extra or an earlier mmap), a mmap must repeat it exactly (EINVAL/E2BIG);
    // arena_map_mmap()'s EBUSY checks then cannot fail.
    const place = placeUserRange(this.userStart, this.userEnd - this.userStart, length, addr, this.mmapTop);
    this.userStart = place.start;
    this.userEnd = place.end;
    this.mappedOnce = true;
    return place;
  }

  addListener(l: ArenaListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Allocated pages in pgoff order. */
  pages(): ArenaPage[] {
    return [...this.byKidx.values()].sort((a, b) => a.pgoff - b.pgoff);
  }

  /** Free page-offset ranges of the allocator ([start, last] inclusive), in order. */
  freeRanges(): Array<[number, number]> {
    return this.rt.ranges();
  }

  /** Page at a kernel offset (0 .. 4 GiB - 1 from kern_vm_start), if allocated. */
  pageAtKernOffset(off32: number): ArenaPage | undefined {
    return this.byKidx.get(Math.floor(off32 / PAGE_SIZE));
  }

  /** The user-view page holding `addr` (inside the mapping), if allocated; never allocates. */
  pageAtUser(addr: bigint): ArenaPage | undefined {
    if (!this.inUserRange(addr)) return undefined;
    return this.byKidx.get(Number(lower32(addr) >> SHIFT));
  }

  /** Is addr inside [user_vm_start, user_vm_end)? (Known at creation with map_extra, else after mmap.) */
  inUserRange(addr: bigint): boolean {
    return addr >= this.userStart && addr < this.userEnd;
  }

  /** cast-to-user (addr_space_cast 1 → 0 without BPF_F_NO_USER_CONV): upper 32 bits of user_vm_start, 0 kept. */
  castToUser(ptr: bigint): bigint {
    const lo = lower32(ptr);
    return lo === 0n ? 0n : clearLo32(this.userStart) | lo;
  }

  /**
   * The value of `ld_imm64 rX, map_value(arena) + off` (BPF_PSEUDO_MAP_VALUE): arena_map_direct_value_addr()
   * gives user_vm_start if off (a u32) is at most the mapping's size — the end itself is allowed — else ERANGE;
   * the verifier then adds off.
   */
  directValueAddr(off: number): bigint {
    const o = BigInt(off >>> 0);
    if (o > this.userEnd - this.userStart)
      throw new ArenaConfigError('ERANGE', `map value offset ${off >>> 0} is past the arena's ${this.userEnd - this.userStart} bytes`);
    return this.userStart + o;
  }

  /** The arena addresses the JIT needs (JitOptions.kernVmStart / userVmStart). */
  jitAddresses(): { kernVmStart: bigint; userVmStart: bigint } {
    return { kernVmStart: this.kernVmStart, userVmStart: this.userStart };
  }

  /** compute_pgoff(): (u32)(uaddr - (u32)user_vm_start) >> PAGE_SHIFT. */
  private pgoffOf(uaddr: bigint): number {
    return Number(BigInt.asUintN(32, uaddr - lower32(this.userStart)) >> SHIFT);
  }

  private get pageCntMax(): number {
    return Number((this.userEnd - this.userStart) >> SHIFT);
  }

  /**
   * bpf_arena_alloc_pages(map, addr__ign, page_cnt, node_id, flags) with raw register values.
   * Returns the user address of the first page, or 0n.
   */
  allocPages(hint: bigint | number, pageCnt: bigint | number, nodeId: bigint | number, flags: bigint | number = 0n): bigint {
    this.live();
    const cnt = Number(BigInt.asUintN(32, BigInt(pageCnt)));
    const node = Number(BigInt.asIntN(32, BigInt(nodeId)));
    if (BigInt.asUintN(64, BigInt(flags)) !== 0n || cnt === 0) return 0n;
    // arena_alloc_pages()
    if (node !== NUMA_NO_NODE && (node < 0 || node >= this.numaNodes)) return 0n;
    const max = this.pageCntMax;
    if (cnt > max) return 0n;
    const uaddr = BigInt.asIntN(64, BigInt(hint));
    let pgoff: number;
    if (uaddr !== 0n) {
      if (uaddr & (PAGE - 1n)) return 0n;
      pgoff = this.pgoffOf(uaddr);
      if (pgoff > max - cnt) return 0n; // would end outside the user mapping
      if (!this.rt.isSet(pgoff, cnt)) return 0n;
    } else {
      pgoff = this.rt.find(cnt);
      if (pgoff < 0) return 0n;
    }
    this.rt.clear(pgoff, cnt);
    const uaddr32 = lower32(this.userStart + BigInt(pgoff) * PAGE);
    const kidx0 = Number(uaddr32 >> SHIFT);
    for (let i = 0; i < cnt; i++) {
      if (this.byKidx.has(kidx0 + i)) {
        // The kernel's map step fails on a present pte (not reachable through these kfuncs); undo like it does.
        this.rt.set(pgoff, cnt);
        return 0n;
      }
    }
    for (let i = 0; i < cnt; i++) this.mapPage(kidx0 + i);
    return clearLo32(this.userStart) + uaddr32;
  }

  /** bpf_arena_free_pages(map, ptr__ign, page_cnt): only the page-aligned lower 32 bits of ptr count. */
  freePages(ptr: bigint | number, pageCnt: bigint | number): void {
    this.live();
    const cnt = BigInt.asUintN(32, BigInt(pageCnt));
    if (cnt === 0n || BigInt.asUintN(64, BigInt(ptr)) === 0n) return;
    const uaddr = lower32(BigInt(ptr)) & ~(PAGE - 1n);
    const full = clearLo32(this.userStart) + uaddr;
    const wantEnd = full + (cnt << SHIFT);
    const end = this.userEnd < wantEnd ? this.userEnd : wantEnd;
    if (full >= end) return;
    const n = Number((end - full) >> SHIFT);
    // A pointer below user_vm_start's lower half wraps to a pgoff past the arena: the kernel marks that free too.
    this.rt.set(this.pgoffOf(uaddr), n);
    const kidx0 = Number(uaddr >> SHIFT);
    for (let i = 0; i < n; i++) this.unmapPage(kidx0 + i);
  }

  /** bpf_arena_reserve_pages(map, ptr__ign, page_cnt): 0, -EINVAL or -EBUSY (an int). */
  reservePages(ptr: bigint | number, pageCnt: bigint | number): number {
    this.live();
    const cnt = Number(BigInt.asUintN(32, BigInt(pageCnt)));
    if (cnt === 0) return 0;
    const uaddr = BigInt.asIntN(64, BigInt(ptr));
    if (uaddr & (PAGE - 1n)) return 0;
    const pgoff = this.pgoffOf(uaddr);
    if (pgoff + cnt > this.pageCntMax) return -Errno.EINVAL;
    if (!this.rt.isSet(pgoff, cnt)) return -Errno.EBUSY;
    this.rt.clear(pgoff, cnt);
    return 0;
  }

  /**
   * arena_vm_fault() for a user access at `addr`: the page if present, else a new zeroed page in both views,
   * or a fault (ArenaFault) outside the mapping or under BPF_F_SEGV_ON_FAULT.
   */
  userFault(addr: bigint, write: boolean): ArenaPage {
    this.live();
    if (!this.mappedOnce || !this.inUserRange(addr)) throw new ArenaFault('outside', addr, write);
    const kidx = Number(lower32(addr) >> SHIFT);
    const page = this.byKidx.get(kidx);
    if (page) return page;
    if (this.segvOnFault) throw new ArenaFault('segv-on-fault', addr, write);
    this.rt.clear(Number((addr - this.userStart) >> SHIFT), 1);
    return this.mapPage(kidx);
  }

  // User view (see views.ts): addresses are user addresses, missing pages fault in or raise ArenaFault.
  readUser(addr: bigint, len: number): Uint8Array {
    return readUser(this, addr, len);
  }
  writeUser(addr: bigint, data: Uint8Array): void {
    writeUser(this, addr, data);
  }
  readU8(addr: bigint): number {
    return Number(readUserUint(this, addr, 1));
  }
  readU16(addr: bigint): number {
    return Number(readUserUint(this, addr, 2));
  }
  readU32(addr: bigint): number {
    return Number(readUserUint(this, addr, 4));
  }
  readU64(addr: bigint): bigint {
    return readUserUint(this, addr, 8);
  }
  writeU8(addr: bigint, v: number | bigint): void {
    writeUserUint(this, addr, 1, v);
  }
  writeU16(addr: bigint, v: number | bigint): void {
    writeUserUint(this, addr, 2, v);
  }
  writeU32(addr: bigint, v: number | bigint): void {
    writeUserUint(this, addr, 4, v);
  }
  writeU64(addr: bigint, v: number | bigint): void {
    writeUserUint(this, addr, 8, v);
  }
  // Kernel view by u32 offset from kern_vm_start: missing pages read as 0 and drop writes.
  readKern(off32: number, len: number): Uint8Array {
    return readKern(this, off32, len);
  }
  writeKern(off32: number, data: Uint8Array): boolean {
    return writeKern(this, off32, data);
  }
  /** Kernel-view scalar load (little-endian); null when a byte's page is missing (the ArenaView shape of src/interp). */
  read(off32: number, size: 1 | 2 | 4 | 8): bigint | null {
    return this.kernPresent(off32, size) ? leToBigint(readKern(this, off32, size)) : null;
  }
  /** Kernel-view scalar store; false and nothing written when a byte's page is missing. */
  write(off32: number, size: 1 | 2 | 4 | 8, value: bigint): boolean {
    return this.kernPresent(off32, size) && writeKern(this, off32, bigintToLe(value, size));
  }
  get noUserConv(): boolean {
    return (this.flags & ArenaFlag.NO_USER_CONV) !== 0;
  }
  private kernPresent(off32: number, size: number): boolean {
    return this.pageAtKernOffset(off32) !== undefined && this.pageAtKernOffset(off32 + size - 1) !== undefined;
  }

  /** Unmaps everything (telling listeners) and returns host memory. The arena is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    for (const kidx of [...this.byKidx.keys()]) this.unmapPage(kidx);
    this.disposed = true;
    this.memory.dispose();
  }

  private live(): void {
    if (this.disposed) throw new Error('arena: used after dispose()');
  }

  private mapPage(kidx: number): ArenaPage {
    const page = new PageRecord(this, kidx, this.pgoffOf(BigInt(kidx) << SHIFT), this.memory.alloc());
    this.byKidx.set(kidx, page);
    for (const l of this.listeners) l.onMap?.(page);
    return page;
  }

  private unmapPage(kidx: number): void {
    const page = this.byKidx.get(kidx);
    if (!page) return;
    this.byKidx.delete(kidx);
    for (const l of this.listeners) l.onUnmap?.(page);
    this.memory.release(page.host);
  }
}

/** An allocated page; addresses are computed when asked (the user range is fixed by then). */
class PageRecord implements ArenaPage {
  constructor(
    private readonly arena: Arena,
    readonly kidx: number,
    readonly pgoff: number,
    readonly host: HostPage,
  ) {}
  get kernAddr(): bigint {
    return this.arena.kernVmStart + (BigInt(this.kidx) << SHIFT);
  }
  get userAddr(): bigint | null {
    const u = clearLo32(this.arena.userVmStart) + (BigInt(this.kidx) << SHIFT);
    return this.arena.inUserRange(u) ? u : null;
  }
  get bytes(): Uint8Array {
    return this.host.bytes;
  }
  get ptr(): bigint | null {
    return this.host.ptr;
  }
}
