// src/emu — the guest address space: every region is host memory (so its contents survive when a broken
// Unicorn instance is replaced), and every hook is recorded, so `rebuild()` can recreate the engine exactly.
import { HostMemory, Unicorn, UC, X86, unicornLibPath, type CodeHookFn, type MemHookFn } from './unicorn.js';
import { watchdog, type Watchdog } from './watchdog.js';
import { PAGE } from './layout.js';

export interface Region {
  readonly addr: bigint;
  readonly size: number;
  /** Native address of the host memory behind it. */
  readonly ptr: bigint;
  readonly perms: number;
  readonly name: string;
  /** Host memory the region owns (released with it); null for memory the caller owns (arena pages, maps). */
  readonly mem: HostMemory | null;
}

/** A region the address space allocated itself (always has memory). */
export type OwnedRegion = Region & { readonly mem: HostMemory };

type HookSpec =
  | { kind: 'code'; begin: bigint; end: bigint; fn: CodeHookFn }
  | { kind: 'noop'; begin: bigint; end: bigint }
  | { kind: 'mem'; types: number; fn: MemHookFn; begin?: bigint; end?: bigint };

export type HookId = number;

export class AddressSpace {
  uc: Unicorn;
  private readonly regions = new Map<bigint, Region>();
  private readonly hooks = new Map<HookId, { spec: HookSpec; rec: ReturnType<Unicorn['hookCode']> }>();
  private nextHook = 1;
  /** GS base (per-CPU offset of CPU 0). */
  gsBase = 0n;

  constructor() {
    this.uc = new Unicorn();
  }

  /** The process's wall-clock watchdog (started on first use). */
  get watchdog(): Watchdog {
    return watchdog(unicornLibPath());
  }

  /** Maps `size` bytes (page multiple) of fresh zeroed host memory at `addr`. */
  map(addr: bigint, size: number, perms: number, name: string): OwnedRegion {
    if ((addr & 0xfffn) !== 0n || size % PAGE !== 0 || size === 0) throw new RangeError(`${name}: unaligned mapping`);
    for (const r of this.regions.values()) {
      if (addr < r.addr + BigInt(r.size) && r.addr < addr + BigInt(size)) {
        throw new RangeError(`${name} at 0x${addr.toString(16)} overlaps ${r.name} at 0x${r.addr.toString(16)}`);
      }
    }
    const mem = new HostMemory(size);
    const region = { addr, size, ptr: mem.address, perms, name, mem };
    this.uc.memMapPtr(addr, region.ptr, size, perms);
    this.regions.set(addr, region);
    return region;
  }

  /** Maps host memory the caller owns (arena pages, maps) at `addr`. */
  mapExternal(addr: bigint, ptr: bigint, size: number, perms: number, name: string): Region {
    const region = { addr, size, ptr, perms, name, mem: null };
    this.uc.memMapPtr(addr, ptr, size, perms);
    this.regions.set(addr, region);
    return region;
  }

  /** Unmaps a region (releasing memory it owns). */
  unmap(addr: bigint): void {
    const r = this.regions.get(addr);
    if (!r) return;
    this.regions.delete(addr);
    this.uc.memUnmap(addr, r.size);
    r.mem?.release();
  }

  owned(addr: bigint): OwnedRegion | undefined {
    const r = this.regions.get(addr);
    return r?.mem ? (r as OwnedRegion) : undefined;
  }
  region(addr: bigint): Region | undefined {
    return this.regions.get(addr);
  }
  /** Region containing `addr`. */
  find(addr: bigint): Region | undefined {
    for (const r of this.regions.values()) if (addr >= r.addr && addr < r.addr + BigInt(r.size)) return r;
    return undefined;
  }

  hookCode(begin: bigint, end: bigint, fn: CodeHookFn): HookId {
    return this.addHook({ kind: 'code', begin, end, fn });
  }
  hookNoop(begin: bigint, end: bigint): HookId {
    return this.addHook({ kind: 'noop', begin, end });
  }
  /** Memory hook on accesses whose start address is in [begin, end] (default: all). */
  hookMem(types: number, fn: MemHookFn, begin?: bigint, end?: bigint): HookId {
    return this.addHook({ kind: 'mem', types, fn, begin, end });
  }
  private addHook(spec: HookSpec): HookId {
    const id = this.nextHook++;
    this.hooks.set(id, { spec, rec: this.install(spec) });
    return id;
  }
  private install(spec: HookSpec): ReturnType<Unicorn['hookCode']> {
    if (spec.kind === 'code') return this.uc.hookCode(spec.begin, spec.end, spec.fn);
    if (spec.kind === 'noop') return this.uc.hookCodeNoop(spec.begin, spec.end);
    return this.uc.hookMem(spec.types, spec.fn, spec.begin, spec.end);
  }
  unhook(id: HookId): void {
    const h = this.hooks.get(id);
    if (!h) return;
    this.hooks.delete(id);
    this.uc.hookDel(h.rec);
  }

  /** Drops translated code of every executable region (after hooks or code changed). */
  flushCode(): void {
    for (const r of this.regions.values()) {
      if (r.perms & UC.PROT_EXEC) this.uc.removeCache(r.addr, r.addr + BigInt(r.size));
    }
  }

  /** Unmaps everything before uc_close (Unicorn 2.0.1 leaks more when closed with uc_mem_map_ptr regions mapped). */
  private closeEngine(): void {
    for (const r of this.regions.values()) {
      try {
        this.uc.memUnmap(r.addr, r.size);
      } catch {
        /* already gone with a broken instance: uc_close frees it */
      }
    }
    this.uc.close();
  }

  /** Replaces the Unicorn instance (after a fault that leaves it unusable), keeping memory and hooks. */
  rebuild(): void {
    this.closeEngine();
    this.uc = new Unicorn();
    for (const r of this.regions.values()) this.uc.memMapPtr(r.addr, r.ptr, r.size, r.perms);
    for (const h of this.hooks.values()) h.rec = this.install(h.spec);
    this.uc.regWrite(X86.GS_BASE, this.gsBase);
  }

  close(): void {
    this.hooks.clear();
    this.closeEngine();
    for (const r of this.regions.values()) r.mem?.release();
    this.regions.clear();
  }
}
