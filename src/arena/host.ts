// Host memory behind arena pages. Each page is 4096 bytes of page-aligned native memory with a stable address,
// so the emulator can map the same bytes at the kernel and the user address (uc_mem_map_ptr).
// Pages come from anonymous mmap slabs (zeroed by the OS, committed only when touched) and are recycled
// zeroed (madvise DONTNEED); slabs are only unmapped by dispose(), after every page left the emulator.
import { createRequire } from 'node:module';
import { PAGE_SIZE } from './constants.js';

export interface HostPage {
  /** The page's bytes (exactly PAGE_SIZE long). */
  readonly bytes: Uint8Array;
  /** Native address of bytes[0], or null when host memory is plain JavaScript memory. */
  readonly ptr: bigint | null;
}

/** Where arena pages live. alloc() returns zeroed pages; release() takes a page back. */
export interface PageMemory {
  alloc(): HostPage;
  release(page: HostPage): void;
  /** Frees everything; pages handed out before must no longer be used (or mapped). */
  dispose(): void;
}

/** Plain ArrayBuffers: no native address (enough for the model and the user view without an emulator). */
export class JsPageMemory implements PageMemory {
  alloc(): HostPage {
    return { bytes: new Uint8Array(PAGE_SIZE), ptr: null };
  }
  release(): void {}
  dispose(): void {}
}

interface NativeApi {
  mmap(len: number): bigint | null;
  munmap(addr: bigint, len: number): void;
  /** madvise(MADV_DONTNEED): the kernel drops the page; it reads as zeros again. False on failure. */
  discard(addr: bigint, len: number): boolean;
  view(addr: bigint, len: number): ArrayBuffer;
}

let nativeApi: NativeApi | null | undefined;

/** koffi + libc mmap, loaded lazily; null where unavailable (non-Linux, no koffi). */
function loadNative(): NativeApi | null {
  if (nativeApi !== undefined) return nativeApi;
  nativeApi = null;
  if (process.platform !== 'linux') return null;
  try {
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as {
      load(path: string): { func(decl: string): (...args: unknown[]) => unknown };
      view(ptr: unknown, len: number): ArrayBuffer;
      address(ptr: unknown): bigint;
    };
    const libc = koffi.load('libc.so.6');
    const mmap = libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)');
    const munmap = libc.func('int munmap(void *addr, size_t len)');
    const madvise = libc.func('int madvise(void *addr, size_t len, int advice)');
    const MADV_DONTNEED = 4;
    const PROT_RW = 3;
    const MAP_PRIVATE_ANON = 0x22;
    nativeApi = {
      mmap(len) {
        const p = koffi.address(mmap(null, len, PROT_RW, MAP_PRIVATE_ANON, -1, 0));
        return p === 0n || p === (1n << 64n) - 1n ? null : p;
      },
      munmap(addr, len) {
        munmap(addr, len);
      },
      discard: (addr, len) => madvise(addr, len, MADV_DONTNEED) === 0,
      view: (addr, len) => koffi.view(addr, len),
    };
  } catch {
    nativeApi = null;
  }
  return nativeApi;
}

export function nativeMemoryAvailable(): boolean {
  return loadNative() !== null;
}

const SLAB_PAGES = 1024;

/** Page-aligned native memory from mmap slabs of 64 pages. */
export class NativePageMemory implements PageMemory {
  private readonly api: NativeApi;
  private readonly slabs: bigint[] = [];
  private readonly free: HostPage[] = [];
  private disposed = false;

  constructor() {
    const api = loadNative();
    if (!api) throw new Error('native page memory needs koffi and libc mmap (Linux)');
    this.api = api;
  }

  alloc(): HostPage {
    if (this.disposed) throw new Error('page memory was disposed');
    if (this.free.length === 0) this.grow();
    return this.free.pop()!;
  }

  release(page: HostPage): void {
    // Giving the page back to the OS zeroes it without touching it (and frees the memory).
    if (page.ptr === null || !this.api.discard(page.ptr, PAGE_SIZE)) page.bytes.fill(0);
    this.free.push(page);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.slabs) this.api.munmap(s, SLAB_PAGES * PAGE_SIZE);
    this.slabs.length = 0;
    this.free.length = 0;
  }

  private grow(): void {
    const len = SLAB_PAGES * PAGE_SIZE;
    const base = this.api.mmap(len);
    if (base === null) throw new Error('mmap of arena host memory failed');
    this.slabs.push(base);
    const buf = this.api.view(base, len);
    // Highest first, so pop() hands out pages in address order.
    for (let i = SLAB_PAGES - 1; i >= 0; i--) this.free.push(new SlabPage(buf, base, i * PAGE_SIZE));
  }
}

/** A page of a slab; its view and address are made on first use (a million eager views make GC quadratic). */
class SlabPage implements HostPage {
  private view: Uint8Array | undefined;
  constructor(private readonly slab: ArrayBuffer, private readonly base: bigint, private readonly off: number) {}
  get bytes(): Uint8Array {
    return (this.view ??= new Uint8Array(this.slab, this.off, PAGE_SIZE));
  }
  get ptr(): bigint {
    return this.base + BigInt(this.off);
  }
}

/** Native memory where available, JavaScript memory otherwise. */
export function defaultPageMemory(): PageMemory {
  return nativeMemoryAvailable() ? new NativePageMemory() : new JsPageMemory();
}
