// The interpreter's view of a BPF arena: a sparse set of 4 KiB pages addressed by the 32-bit arena
// pointer, with the kernel's rules (missing pages read as 0, writes to them are dropped) and the two
// kfuncs that allocate and free pages. Minimal on purpose: src/arena holds the full model; anything
// implementing ArenaView can be plugged in.

export const ARENA_PAGE_SIZE = 4096;

/** What the interpreter needs from an arena. Offsets are the 32-bit arena pointer values (kernel view). */
export interface ArenaView {
  /** The user-space address of page 0 (its upper 32 bits are merged by cast-to-user). */
  readonly userVmStart: bigint;
  /** BPF_F_NO_USER_CONV: cast-to-user is a plain 32-bit move. */
  readonly noUserConv: boolean;
  /** Reads `size` bytes at a 32-bit arena offset; null when the page is not allocated. */
  read(off32: number, size: 1 | 2 | 4 | 8): bigint | null;
  /** Writes `size` bytes; false (and nothing written) when the page is not allocated. */
  write(off32: number, size: 1 | 2 | 4 | 8, value: bigint): boolean;
  /** bpf_arena_alloc_pages: returns the user address of the first page, or 0 on failure. */
  allocPages(addrHint: bigint, pageCount: number, nodeId: number, flags: bigint): bigint;
  /** bpf_arena_free_pages. */
  freePages(addr: bigint, pageCount: number): void;
}

export interface SparseArenaOptions {
  /** max_entries: number of pages the arena may hold. */
  readonly pages: number;
  readonly userVmStart: bigint;
  readonly noUserConv?: boolean;
}

const MASK32 = 0xffffffffn;

/** A simple arena: allocated pages in a Map keyed by page offset (pgoff). */
export class SparseArena implements ArenaView {
  readonly userVmStart: bigint;
  readonly noUserConv: boolean;
  readonly maxPages: number;
  /** pgoff → page bytes. */
  readonly pages = new Map<number, Uint8Array>();
  /** Free page offsets, as the kernel tracks them (allocation order depends on it). */
  readonly free: FreeRanges;
  private readonly base32: number;

  constructor(opts: SparseArenaOptions) {
    this.userVmStart = opts.userVmStart;
    this.noUserConv = opts.noUserConv ?? false;
    this.maxPages = opts.pages;
    this.base32 = Number(opts.userVmStart & MASK32);
    this.free = new FreeRanges(opts.pages);
  }

  /** Page offset of a 32-bit arena pointer (the kernel maps page pgoff at lower32(user_vm_start) + pgoff * 4096). */
  pgoffOf(off32: number): number {
    return Math.floor(((off32 - this.base32) >>> 0) / ARENA_PAGE_SIZE);
  }

  /** Makes a page present (zeroed), as a user-space fault through the mmap does (it also marks it allocated). */
  ensurePage(pgoff: number): Uint8Array {
    let page = this.pages.get(pgoff);
    if (!page) {
      page = new Uint8Array(ARENA_PAGE_SIZE);
      this.pages.set(pgoff, page);
      this.free.clear(pgoff, 1);
    }
    return page;
  }

  private locate(off32: number, size: number): { page: Uint8Array; at: number } | null | 'split' {
    const inPage = ((off32 - this.base32) >>> 0) % ARENA_PAGE_SIZE;
    if (inPage + size > ARENA_PAGE_SIZE) return 'split';
    const page = this.pages.get(this.pgoffOf(off32));
    return page ? { page, at: inPage } : null;
  }

  read(off32: number, size: 1 | 2 | 4 | 8): bigint | null {
    if (off32 + size > 2 ** 32) return null; // past 4 GiB: the upper guard region
    const loc = this.locate(off32, size);
    if (loc === 'split') {
      // An access straddling two pages: byte by byte; any missing byte makes the whole load fault (→ 0).
      let v = 0n;
      for (let i = 0; i < size; i++) {
        const b = this.read((off32 + i) >>> 0, 1);
        if (b === null) return null;
        v |= b << BigInt(8 * i);
      }
      return v;
    }
    if (!loc) return null;
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(loc.page[loc.at + i]!);
    return v;
  }

  write(off32: number, size: 1 | 2 | 4 | 8, value: bigint): boolean {
    if (off32 + size > 2 ** 32) return false;
    const loc = this.locate(off32, size);
    if (loc === 'split') {
      for (let i = 0; i < size; i++) if (this.read((off32 + i) >>> 0, 1) === null) return false;
      for (let i = 0; i < size; i++) this.write((off32 + i) >>> 0, 1, value >> BigInt(8 * i));
      return true;
    }
    if (!loc) return false;
    for (let i = 0; i < size; i++) loc.page[loc.at + i] = Number((value >> BigInt(8 * i)) & 0xffn);
    return true;
  }

  allocPages(addrHint: bigint, pageCount: number, nodeId: number, flags: bigint): bigint {
    // bpf_arena_alloc_pages: flags must be 0, page_cnt > 0 and fit; node_id is NUMA_NO_NODE (-1) or node 0.
    if (flags !== 0n || pageCount <= 0 || pageCount > this.maxPages) return 0n;
    if (nodeId !== -1 && nodeId !== 0) return 0n;
    let first: number;
    if (addrHint !== 0n) {
      if (addrHint % BigInt(ARENA_PAGE_SIZE) !== 0n) return 0n;
      first = this.pgoffOf(Number(addrHint & MASK32));
      if (first > this.maxPages - pageCount) return 0n;
      if (!this.free.covers(first, pageCount)) return 0n;
    } else {
      first = this.free.find(pageCount);
      if (first < 0) return 0n;
    }
    this.free.clear(first, pageCount);
    for (let p = first; p < first + pageCount; p++) this.pages.set(p, new Uint8Array(ARENA_PAGE_SIZE));
    const uaddr32 = (this.userVmStart + BigInt(first * ARENA_PAGE_SIZE)) & MASK32;
    return (this.userVmStart & ~MASK32) + uaddr32;
  }

  freePages(addr: bigint, pageCount: number): void {
    // Only the page-aligned lower 32 bits matter; the range is cut at the end of the arena.
    const uaddr = (Number(addr & MASK32) & ~(ARENA_PAGE_SIZE - 1)) >>> 0;
    const full = (this.userVmStart & ~MASK32) + BigInt(uaddr);
    const userEnd = this.userVmStart + BigInt(this.maxPages * ARENA_PAGE_SIZE);
    const end = full + BigInt(pageCount) * BigInt(ARENA_PAGE_SIZE);
    const cut = end < userEnd ? end : userEnd;
    if (full >= cut) return;
    const count = Number((cut - full) / BigInt(ARENA_PAGE_SIZE));
    const first = this.pgoffOf(uaddr);
    this.free.set(first, count);
    for (let p = first; p < first + count; p++) this.pages.delete(p);
  }
}

interface FreeRange {
  start: number;
  last: number; // inclusive
  /** When the range was last (re)inserted into the kernel's size-ordered tree. */
  seq: number;
}

/**
 * The kernel's range_tree of free page offsets (kernel/bpf/range_tree.c), reduced to what decides its
 * answers: find() is best fit — the smallest free range that is large enough, and among equal sizes the
 * one inserted last (equal sizes go right in the size tree and the search keeps going right).
 */
export class FreeRanges {
  private ranges: FreeRange[] = [];
  private counter = 0;

  constructor(pages: number) {
    if (pages > 0) this.insert(0, pages - 1);
  }

  private insert(start: number, last: number): void {
    this.ranges.push({ start, last, seq: ++this.counter });
    this.ranges.sort((a, b) => a.start - b.start);
  }

  private remove(r: FreeRange): void {
    this.ranges = this.ranges.filter((x) => x !== r);
  }

  private at(pgoff: number): FreeRange | undefined {
    return this.ranges.find((r) => r.start <= pgoff && pgoff <= r.last);
  }

  /** Whether [start, start + len) is free (is_range_tree_set). */
  covers(start: number, len: number): boolean {
    const last = start + len - 1;
    const r = this.ranges.find((x) => x.start <= last && x.last >= start);
    return r !== undefined && r.start <= start && r.last >= last;
  }

  /** First page of the best-fitting free range, or -1. */
  find(len: number): number {
    let best: FreeRange | undefined;
    for (const r of this.ranges) {
      const size = r.last - r.start + 1;
      if (size < len) continue;
      const bestSize = best ? best.last - best.start + 1 : Infinity;
      if (size < bestSize || (size === bestSize && r.seq > best!.seq)) best = r;
    }
    return best ? best.start : -1;
  }

  /** Marks [start, start + len) allocated (range_tree_clear). */
  clear(start: number, len: number): void {
    const last = start + len - 1;
    for (;;) {
      const r = this.ranges.find((x) => x.start <= last && x.last >= start);
      if (!r) return;
      this.remove(r);
      if (r.start < start && r.last > last) {
        this.insert(r.start, start - 1);
        this.insert(last + 1, r.last);
      } else if (r.start < start) {
        this.insert(r.start, start - 1);
      } else if (r.last > last) {
        this.insert(last + 1, r.last);
        return;
      }
    }
  }

  /** Marks [start, start + len) free, merging with neighbours (range_tree_set). */
  set(start: number, len: number): void {
    const last = start + len - 1;
    if (this.covers(start, len)) return;
    this.clear(start, len);
    const left = start > 0 ? this.at(start - 1) : undefined;
    const right = this.at(last + 1);
    if (left && right) {
      this.remove(left);
      this.remove(right);
      this.insert(left.start, right.last);
    } else if (left) {
      this.remove(left);
      this.insert(left.start, last);
    } else if (right) {
      this.remove(right);
      this.insert(start, right.last);
    } else {
      this.insert(start, last);
    }
  }
}
