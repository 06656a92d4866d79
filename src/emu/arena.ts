// src/emu — the arena as the engine sees it: pages of host memory that appear at kern_vm_start + (u32)uaddr
// and at the user address, an allocator with kernel/bpf/arena.c's semantics (best-fit range tree), and the
// two arena kfuncs. Kept behind the ArenaBacking interface so src/arena's model can replace it.
import { HostMemory } from './unicorn.js';
import { PAGE } from './layout.js';

export const BPF_F_NO_USER_CONV = 1 << 18;
export const BPF_F_SEGV_ON_FAULT = 1 << 17;
const NUMA_NO_NODE = -1;

/** What the engine needs from an arena model. */
export interface ArenaBacking {
  readonly kernVmStart: bigint;
  readonly userVmStart: bigint;
  /** max_entries (pages). */
  readonly maxPages: number;
  /** Allocated pages, in pgoff order: each page's bytes must stay at one host address while allocated. */
  pages(): Iterable<readonly [number, HostMemory]>;
  /** Called by the engine before a run; `onMap`/`onUnmap` report pages the kfuncs add or remove. */
  attach(listener: ArenaListener | null): void;
  /** bpf_arena_alloc_pages(map, addr_hint, page_cnt, node_id, flags) → user address or 0. */
  allocPages(addrHint: bigint, pageCnt: number, nodeId: number, flags: bigint): bigint;
  /** bpf_arena_free_pages(map, ptr, page_cnt). */
  freePages(ptr: bigint, pageCnt: number): void;
  /** Release all host memory. */
  release(): void;
}

export interface ArenaListener {
  onMap(pgoff: number, page: HostMemory): void;
  onUnmap(pgoff: number): void;
}

/** Kernel address of page `pgoff` (the kernel maps at kern_vm_start + lower 32 bits of the user address). */
export function arenaKernAddr(a: Pick<ArenaBacking, 'kernVmStart' | 'userVmStart'>, pgoff: number): bigint {
  return a.kernVmStart + BigInt.asUintN(32, a.userVmStart + BigInt(pgoff * PAGE));
}
export function arenaUserAddr(a: Pick<ArenaBacking, 'userVmStart'>, pgoff: number): bigint {
  return a.userVmStart + BigInt(pgoff * PAGE);
}

interface FreeRange {
  start: number;
  last: number;
  /** Insertion order into the kernel's size tree (equal sizes: the later one is found first). */
  seq: number;
}

/** A small arena model with the kernel's allocation semantics. */
export class ArenaModel implements ArenaBacking {
  private readonly allocated = new Map<number, HostMemory>();
  private free: FreeRange[];
  private seq = 0;
  private listener: ArenaListener | null = null;

  constructor(
    readonly kernVmStart: bigint,
    readonly userVmStart: bigint,
    readonly maxPages: number,
  ) {
    this.free = [{ start: 0, last: maxPages - 1, seq: this.seq++ }];
  }

  *pages(): Iterable<readonly [number, HostMemory]> {
    for (const k of [...this.allocated.keys()].sort((a, b) => a - b)) yield [k, this.allocated.get(k)!];
  }
  attach(listener: ArenaListener | null): void {
    this.listener = listener;
  }

  /** A page written from user space before the run (a user fault allocates it into both views). */
  prefault(pgoff: number, bytes: Uint8Array): void {
    if (pgoff < 0 || pgoff >= this.maxPages) throw new RangeError(`arena page ${pgoff} is outside 0..${this.maxPages - 1}`);
    if (!this.allocated.has(pgoff)) {
      this.clearRange(pgoff, 1);
      this.mapPage(pgoff);
    }
    this.allocated.get(pgoff)!.bytes.set(bytes.subarray(0, PAGE));
  }

  private pgoffOf(uaddr: bigint): number {
    return Number(BigInt.asUintN(32, uaddr - BigInt.asUintN(32, this.userVmStart)) >> 12n);
  }

  allocPages(addrHint: bigint, pageCnt: number, nodeId: number, flags: bigint): bigint {
    if (flags !== 0n || pageCnt === 0) return 0n;
    if (nodeId !== NUMA_NO_NODE && nodeId !== 0) return 0n;
    if (pageCnt > this.maxPages) return 0n;
    let pgoff: number;
    if (addrHint !== 0n) {
      if ((addrHint & 0xfffn) !== 0n) return 0n;
      pgoff = this.pgoffOf(addrHint);
      if (pgoff > this.maxPages - pageCnt) return 0n;
      if (!this.isFree(pgoff, pageCnt)) return 0n;
    } else {
      const best = this.findBestFit(pageCnt);
      if (!best) return 0n;
      pgoff = best.start;
    }
    this.clearRange(pgoff, pageCnt);
    for (let i = 0; i < pageCnt; i++) this.mapPage(pgoff + i);
    const uaddr32 = BigInt.asUintN(32, this.userVmStart + BigInt(pgoff * PAGE));
    return (this.userVmStart & ~0xffffffffn) + uaddr32;
  }

  freePages(ptr: bigint, pageCnt: number): void {
    const full = (this.userVmStart & ~0xffffffffn) + BigInt.asUintN(32, ptr);
    const userEnd = this.userVmStart + BigInt(this.maxPages * PAGE);
    let end = full + BigInt(pageCnt) * BigInt(PAGE);
    if (end > userEnd) end = userEnd;
    if (full >= end || (ptr & 0xfffn) !== 0n) return;
    const cnt = Number((end - full) >> 12n);
    const pgoff = this.pgoffOf(ptr);
    this.setRange(pgoff, cnt);
    for (let i = 0; i < cnt; i++) {
      const page = this.allocated.get(pgoff + i);
      if (!page) continue;
      this.listener?.onUnmap(pgoff + i);
      this.allocated.delete(pgoff + i);
      page.release();
    }
  }

  release(): void {
    for (const p of this.allocated.values()) p.release();
    this.allocated.clear();
  }

  private mapPage(pgoff: number): void {
    const page = new HostMemory(PAGE);
    this.allocated.set(pgoff, page);
    this.listener?.onMap(pgoff, page);
  }

  private findBestFit(len: number): FreeRange | null {
    let best: FreeRange | null = null;
    for (const r of this.free) {
      const size = r.last - r.start + 1;
      if (size < len) continue;
      const bsize = best ? best.last - best.start + 1 : Infinity;
      if (size < bsize || (size === bsize && r.seq > best!.seq)) best = r;
    }
    return best;
  }
  private isFree(start: number, len: number): boolean {
    return this.free.some((r) => r.start <= start && start + len - 1 <= r.last);
  }
  private clearRange(start: number, len: number): void {
    const last = start + len - 1;
    const out: FreeRange[] = [];
    for (const r of this.free) {
      if (r.last < start || r.start > last) {
        out.push(r);
        continue;
      }
      if (r.start < start) out.push({ start: r.start, last: start - 1, seq: this.seq++ });
      if (r.last > last) out.push({ start: last + 1, last: r.last, seq: this.seq++ });
    }
    this.free = out;
  }
  private setRange(start: number, len: number): void {
    this.clearRange(start, len);
    let s = start;
    let l = start + len - 1;
    this.free = this.free.filter((r) => {
      if (r.last + 1 === s) {
        s = r.start;
        return false;
      }
      if (r.start === l + 1) {
        l = r.last;
        return false;
      }
      return true;
    });
    this.free.push({ start: s, last: l, seq: this.seq++ });
  }
}
