// src/kernel — a real BPF arena: the map, its user mapping (the mmap fixes user_vm_start), pages written
// from user space, and reading back which pages are allocated. A user access to a missing page would
// allocate it, so allocation is probed from the kernel side: a small program asks bpf_arena_alloc_pages for
// each page at its address — NULL means the page is taken; a fresh page is freed again at once.
import { BpfError } from '../errors.js';
import type { ArenaSpec } from '../env.js';
import { LD_IMM64 } from '../isa/opcodes.js';
import { MapFlag, MapType, LogLevel, mapCreate, mapId, progInfo, progLoad, testRun } from './bpf.js';
import { type Mapping, closeFd, mmapShared, munmap } from './sys.js';
import { kfuncBtfId } from './symbols.js';
import { resolveXlated } from './resolve.js';

export const PAGE_SIZE = 4096;
/** Largest arena whose allocated pages can be probed (one unrolled check per page, offsets are s16). */
export const MAX_PROBED_PAGES = 8192;

export class KernelArena {
  private mapping: Mapping | null = null;
  private constructor(
    public fd: number,
    readonly spec: ArenaSpec,
  ) {}

  /** Creates the map and maps it (at map_extra, or where the kernel chooses when it is 0). */
  static create(spec: ArenaSpec): KernelArena {
    const fd = mapCreate({
      type: MapType.ARENA,
      maxEntries: spec.pages,
      flags: MapFlag.MMAPABLE | spec.flags,
      mapExtra: BigInt(spec.map_extra),
      name: 'bpfjit_arena',
    });
    const arena = new KernelArena(fd, spec);
    try {
      arena.mapping = mmapShared(fd, spec.pages * PAGE_SIZE, BigInt(spec.map_extra));
    } catch (e) {
      arena.close();
      throw e;
    }
    return arena;
  }

  get userVmStart(): bigint {
    return this.map().addr;
  }

  get id(): number {
    return mapId(this.fd);
  }

  private map(): Mapping {
    if (!this.mapping) throw new Error('arena is closed');
    return this.mapping;
  }

  /** Writes a page from user space (which allocates it). */
  writePage(pgoff: number, data: Uint8Array): void {
    if (!Number.isInteger(pgoff) || pgoff < 0 || pgoff >= this.spec.pages) {
      throw new BpfError({ message: `prefault page ${pgoff} is outside the arena (${this.spec.pages} pages)` });
    }
    if (data.length !== PAGE_SIZE) throw new BpfError({ message: `prefault page ${pgoff}: ${data.length} bytes, expected ${PAGE_SIZE}` });
    // Under BPF_F_SEGV_ON_FAULT a user write to a missing page is SIGSEGV (it would kill this process).
    if (this.spec.flags & MapFlag.SEGV_ON_FAULT) throw new BpfError({ message: `prefault page ${pgoff}: the arena has BPF_F_SEGV_ON_FAULT, so user space cannot allocate pages by writing` });
    this.map().bytes.set(data, pgoff * PAGE_SIZE);
  }

  /** Reads a page through the user mapping; only call it for allocated pages. */
  readPage(pgoff: number): Uint8Array {
    return this.map().bytes.slice(pgoff * PAGE_SIZE, (pgoff + 1) * PAGE_SIZE);
  }

  /** The allocated pages, and the map's `struct bpf_map *` as the probe program's JIT loaded it. */
  probe(): { allocated: number[]; mapPtr: bigint | null } {
    const pages = this.spec.pages;
    if (pages > MAX_PROBED_PAGES) throw new BpfError({ message: `arena of ${pages} pages: allocated-page readback supports up to ${MAX_PROBED_PAGES}` });
    const prog = probeProgram(this.fd, this.userVmStart, pages, kfuncBtfId('bpf_arena_alloc_pages'), kfuncBtfId('bpf_arena_free_pages'));
    const { fd } = progLoad({ insns: prog, logLevel: LogLevel.NONE, name: 'bpfjit_probe' });
    try {
      const out = testRun(fd, new Uint8Array(pages)).ctxOut;
      const allocated: number[] = [];
      out.forEach((b, i) => {
        if (b) allocated.push(i);
      });
      const info = progInfo(fd);
      const r = resolveXlated({ xlated: info.xlated, jited: info.jited, funcLens: info.funcLens });
      return { allocated, mapPtr: r.mapPtr };
    } finally {
      closeFd(fd);
    }
  }

  /** munmap and close; safe to call twice. */
  close(): void {
    if (this.mapping) munmap(this.mapping);
    this.mapping = null;
    closeFd(this.fd);
    this.fd = -1;
  }
}

/** Per page: r0 = alloc(map, uvs + pg*4096, 1, -1, 0); if r0 == 0 ctx[pg] = 1 else free(map, r0, 1). */
function probeProgram(mapFd: number, uvs: bigint, pages: number, allocId: number, freeId: number): Uint8Array {
  const slots: number[][] = [];
  const ins = (code: number, dst: number, src: number, off: number, imm: number) => slots.push([code, dst | (src << 4), off, imm]);
  const ld64 = (dst: number, src: number, value: bigint) => {
    ins(LD_IMM64, dst, src, 0, Number(BigInt.asIntN(32, value)));
    ins(0, 0, 0, 0, Number(BigInt.asIntN(32, value >> 32n)));
  };
  ins(0xbf, 6, 1, 0, 0); // r6 = r1 (ctx: one byte per page)
  for (let pg = 0; pg < pages; pg++) {
    ld64(1, 1, BigInt(mapFd)); // r1 = map
    ld64(2, 0, uvs + BigInt(pg * PAGE_SIZE)); // r2 = the page's user address
    ins(0xb7, 3, 0, 0, 1); // r3 = 1 page
    ins(0xb7, 4, 0, 0, -1); // r4 = NUMA_NO_NODE
    ins(0xb7, 5, 0, 0, 0); // r5 = flags 0
    ins(0x85, 0, 2, 0, allocId);
    ins(0x55, 0, 0, 2, 0); // if r0 != 0 (the page was free, now ours) goto free
    ins(0x72, 6, 0, pg, 1); // *(u8 *)(r6 + pg) = 1
    ins(0x05, 0, 0, 5, 0); // goto next
    ld64(1, 1, BigInt(mapFd));
    ins(0xbf, 2, 0, 0, 0); // r2 = r0
    ins(0xb7, 3, 0, 0, 1);
    ins(0x85, 0, 2, 0, freeId);
  }
  ins(0xb7, 0, 0, 0, 0);
  ins(0x95, 0, 0, 0, 0);
  const out = new Uint8Array(slots.length * 8);
  const v = new DataView(out.buffer);
  slots.forEach(([code, regs, off, imm], i) => {
    v.setUint8(i * 8, code!);
    v.setUint8(i * 8 + 1, regs!);
    v.setInt16(i * 8 + 2, off!, true);
    v.setInt32(i * 8 + 4, imm!, true);
  });
  return out;
}
