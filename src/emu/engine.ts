// src/emu — the Engine: runs JIT images on Unicorn in a kernel-like address space (stack with guard pages,
// context, per-CPU data, jiffies, helper trampolines, maps, arena) and reports results and faults.
import { BpfError } from '../errors.js';
import type { JitFunction } from '../jit/types.js';
import { findExEntry } from '../jit/extable.js';
import { arenaKfuncs, type Arena, type ArenaPage } from '../arena/index.js';
import { HelperState, HELPERS, KFUNCS, type HelperCall, type HelperFn } from './helpers.js';
import { HELPER_NAMES, HelperId, LAYOUT, LINUX_6_18, PAGE, pageOf, type KernelSymbols } from './layout.js';
import { BpfMap, type MapSpec } from './maps.js';
import { firstInvalidInsn } from './locate.js';
import { AddressSpace, type HookId, type OwnedRegion } from './space.js';
import { runProgram, type Loaded } from './run.js';
import type { EngineOptions, RunOptions, RunResult } from './types.js';
import { GPR_IDS, UC, X86 } from './unicorn.js';

const RW = UC.PROT_READ | UC.PROT_WRITE;
const RX = UC.PROT_READ | UC.PROT_EXEC;
/** The program returns here; emulation stops on reaching it. */
export const RETURN_ADDR = LAYOUT.trampoline;
const BPF_LOOP_ADDR = LAYOUT.trampoline + 0x100n;
/** The repeat driver (RunOptions.repeat): runs the program N times in one emulator entry. */
export const REPEAT_ADDR = LAYOUT.trampoline + 0x200n;

/**
 * Guest driver of RunOptions.repeat, entered with rsp = D where [D] = the return trampoline, [D+8] = runs
 * left, [D+16] = the program's entry, [D+24] = the context address: calls the program until no run is left.
 * The count lives on the stack, not in a register, so that after a fault it still tells which run faulted.
 */
export const REPEAT_CODE = new Uint8Array([
  0x48, 0x8b, 0x7c, 0x24, 0x18, // loop: mov rdi,[rsp+0x18]
  0xff, 0x54, 0x24, 0x10, // call qword ptr [rsp+0x10]
  0x48, 0xff, 0x4c, 0x24, 0x08, // dec qword ptr [rsp+0x8]
  0x75, 0xf0, // jne loop
  0xc3, // ret
]);
const ARGS = new Int32Array([X86.RDI, X86.RSI, X86.RDX, X86.RCX, X86.R8]);

/**
 * bpf_loop(nr_loops, callback, ctx, flags) as guest code, so the callback runs as BPF code:
 * for (i = 0; i < nr; i++) if (callback(i, ctx, 0, 0, 0)) return i + 1; return i;
 */
export const BPF_LOOP_CODE = new Uint8Array([
  0x48, 0x85, 0xc9, // test rcx,rcx
  0x75, 0x42, // jne einval
  0x81, 0xff, 0x00, 0x00, 0x80, 0x00, // cmp edi,0x800000
  0x77, 0x42, // ja e2big
  0x53, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, // push rbx; push r12; push r13; push r14
  0x89, 0xfb, // mov ebx,edi
  0x49, 0x89, 0xf4, // mov r12,rsi
  0x49, 0x89, 0xd5, // mov r13,rdx
  0x45, 0x31, 0xf6, // xor r14d,r14d
  0x4c, 0x39, 0xf3, // loop: cmp rbx,r14
  0x76, 0x18, // jbe done
  0x4c, 0x89, 0xf7, // mov rdi,r14
  0x4c, 0x89, 0xee, // mov rsi,r13
  0x31, 0xd2, 0x31, 0xc9, 0x45, 0x31, 0xc0, // xor edx,edx; xor ecx,ecx; xor r8d,r8d
  0x41, 0xff, 0xd4, // call r12
  0x49, 0xff, 0xc6, // inc r14
  0x48, 0x85, 0xc0, // test rax,rax
  0x74, 0xe3, // je loop
  0x4c, 0x89, 0xf0, // done: mov rax,r14
  0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5b, 0xc3, // pop r14; pop r13; pop r12; pop rbx; ret
  0x48, 0xc7, 0xc0, 0xea, 0xff, 0xff, 0xff, 0xc3, // einval: mov rax,-22; ret
  0x48, 0xc7, 0xc0, 0xf9, 0xff, 0xff, 0xff, 0xc3, // e2big: mov rax,-7; ret
]);

interface CallTarget {
  readonly name: string;
  /** null: known name without an implementation. */
  readonly fn: HelperFn | null;
}

/**
 * Exception-table hooks. Each instruction that may fault needs a (no-op) code hook, since a fault's RIP is exact
 * only at a hooked instruction; but Unicorn walks every code hook at every hooked instruction, so many small
 * hooks cost more than a few ranges that also cover the instructions between accesses (measured: 200 loads
 * in a loop, one hook each 470 ns per load, one range 20 ns; the bench's 11-access loop 42 ns → 10 ns).
 * Accesses less than MERGE_GAP bytes apart share a range; beyond MAX_EX_HOOKS ranges the smallest gaps close.
 */
const MERGE_GAP = 64n;
const MAX_EX_HOOKS = 8;

/** The address ranges [begin, end] to hook for exception-table instructions at `insns` ([first, last byte]). */
export function exHookSpans(insns: readonly (readonly [bigint, bigint])[]): [bigint, bigint][] {
  const at = insns.map(([b, e]) => [b, e] as [bigint, bigint]);
  at.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  // Gaps wide enough to keep as separations: the MAX_EX_HOOKS - 1 widest of those at least MERGE_GAP wide.
  const gaps = at.slice(1).map((r, i) => ({ i, width: r[0] - at[i]![1] - 1n })).filter((g) => g.width >= MERGE_GAP);
  gaps.sort((a, b) => (a.width > b.width ? -1 : a.width < b.width ? 1 : a.i - b.i));
  const cut = new Set(gaps.slice(0, MAX_EX_HOOKS - 1).map((g) => g.i));
  const spans: [bigint, bigint][] = [];
  for (let i = 0; i < at.length; i++) {
    if (i === 0 || cut.has(i - 1)) spans.push([at[i]![0], at[i]![1]]);
    else spans[spans.length - 1]![1] = at[i]![1];
  }
  return spans;
}

/** The exception-table entry of the instruction at `addr`: a binary search in its function's table (no index
 *  is built at load, which for a million arena accesses would be a million objects). */
function exLookup(functions: readonly JitFunction[]): Loaded['extable'] {
  return {
    get(addr) {
      for (let func = 0; func < functions.length; func++) {
        const f = functions[func]!;
        if (addr < f.imageBase || addr >= f.imageBase + BigInt(f.image.length)) continue;
        const off = Number(addr - f.imageBase);
        const entry = findExEntry(f.extable, off);
        return entry && entry.offset === off ? { func, entry } : undefined;
      }
      return undefined;
    },
  };
}

export class Engine {
  readonly space: AddressSpace;
  readonly state: HelperState;
  readonly symbols: KernelSymbols;
  private readonly targets = new Map<bigint, CallTarget>();
  private readonly helperAddr = new Map<number, bigint>();
  private readonly kfuncAddr = new Map<string, bigint>();
  private nextSyntheticKfunc = 0;
  private loaded: Loaded | null = null;
  private arena: Arena | null = null;
  private readonly maps: BpfMap[] = [];
  private closed = false;
  /** Set by a trampoline hook that had to stop the run. */
  helperFault: { message: string; target: bigint } | null = null;
  /** The current run's listener of helper/kfunc calls. */
  onCall: ((name: string, args: readonly bigint[], result: bigint) => void) | null = null;
  /** The current run's handler of unmapped/protected accesses (one permanent hook calls it). */
  onBadAccess: ((type: number, addr: bigint) => boolean) | null = null;
  /**
   * The current run's listener of writes that start in the last 7 bytes of an arena page whose next page is
   * missing (called before anything is written): Unicorn 2.0.1 splits such a write into bytes and writes the
   * present part before the missing one faults, where the CPU writes nothing.
   */
  onEdgeWrite: ((addr: bigint, size: number) => void) | null = null;
  /** Write hooks on the last bytes of arena pages (kernel view) whose next page is missing, by page address. */
  private readonly edgeHooks = new Map<bigint, HookId>();
  /** Whether the translated code carries Unicorn's instruction counter (switching needs a re-translation). */
  countMode = false;

  constructor(opts: EngineOptions = {}) {
    this.timer = opts.timer ?? 'worker';
    this.symbols = opts.symbols ?? LINUX_6_18;
    this.state = new HelperState(opts.seed, undefined, undefined, opts.jiffies);
    this.space = new AddressSpace();
    const s = this.space;
    s.map(LAYOUT.stackTop - BigInt(LAYOUT.stackSize), LAYOUT.stackSize, RW, 'kernel stack');
    s.map(LAYOUT.ctx, PAGE, RW, 'context');
    s.map(LAYOUT.task, 4 * PAGE, RW, 'task_struct stand-in');
    // Per-CPU data of CPU 0 with a zero per-CPU offset: gs:[this_cpu_off] = 0, cpu_number = 0.
    s.gsBase = 0n;
    s.uc.regWrite(X86.GS_BASE, 0n);
    s.map(pageOf(this.symbols.thisCpuOff), PAGE, RW, 'per-CPU data');
    if (pageOf(this.symbols.cpuNumber) !== pageOf(this.symbols.thisCpuOff)) s.map(pageOf(this.symbols.cpuNumber), PAGE, RW, 'cpu_number');
    s.map(pageOf(this.symbols.jiffies), PAGE, RW, 'jiffies');
    this.resetKernelData();
    const t = s.map(LAYOUT.trampoline, PAGE, RX, 'return trampoline');
    t.mem.bytes.fill(0xcc);
    t.mem.bytes.set(BPF_LOOP_CODE, Number(BPF_LOOP_ADDR - LAYOUT.trampoline));
    t.mem.bytes.set(REPEAT_CODE, Number(REPEAT_ADDR - LAYOUT.trampoline));

    s.hookMem(
      UC.HOOK_MEM_READ_UNMAPPED | UC.HOOK_MEM_WRITE_UNMAPPED | UC.HOOK_MEM_FETCH_UNMAPPED |
        UC.HOOK_MEM_READ_PROT | UC.HOOK_MEM_WRITE_PROT | UC.HOOK_MEM_FETCH_PROT,
      (type, addr) => this.onBadAccess?.(type, addr) ?? false,
    );
    const helpers = new Map(HELPERS);
    for (const [id, fn] of opts.helpers ?? []) helpers.set(id, fn);
    const kfuncs = new Map(KFUNCS);
    for (const [n, fn] of opts.kfuncs ?? []) kfuncs.set(n, fn);
    // Every helper id below 256 has an address: the kernel's where known, else a synthetic one.
    for (let id = 0; id < 256; id++) {
      const addr = this.symbols.helpers.get(id) ?? LAYOUT.syntheticHelpers + BigInt(16 * id);
      this.helperAddr.set(id, addr);
      this.targets.set(addr, { name: `${HELPER_NAMES.get(id) ?? 'helper'}#${id}`, fn: helpers.get(id) ?? null });
    }
    this.helperAddr.set(HelperId.loop, BPF_LOOP_ADDR);
    for (const [name, addr] of [...this.symbols.kfuncs, ...Object.entries(opts.kfuncAddrs ?? {})]) {
      this.kfuncAddr.set(name, addr);
      this.targets.set(addr, { name, fn: kfuncs.get(name) ?? null });
    }
    for (const [name, fn] of kfuncs) {
      if (!this.kfuncAddr.has(name)) this.assignKfunc(name, fn);
    }
    this.targets.set(this.symbols.timedMayGoto, { name: 'arch_bpf_timed_may_goto', fn: null });
    const pages = new Set([...this.targets.keys()].map(pageOf));
    pages.add(pageOf(LAYOUT.syntheticKfuncs));
    for (const p of pages) s.map(p, PAGE, RX, 'helper trampolines').mem.bytes.fill(0xc3);
    // One code hook over all trampoline pages (only they execute there), not one per page: Unicorn walks every
    // code hook at every hooked instruction, so each extra hook slows each exception-table instruction.
    // The engine's own code (return trampoline, bpf_loop, the repeat driver) stays outside it.
    const sorted = [...pages].sort((a, b) => (a < b ? -1 : 1));
    const lo = sorted[0]!;
    const hi = sorted[sorted.length - 1]! + BigInt(PAGE - 1);
    const own = LAYOUT.trampoline;
    const spans = own >= lo && own <= hi ? [[lo, own - 1n], [own + BigInt(PAGE), hi]] : [[lo, hi]];
    for (const [b, e] of spans) if (b! <= e!) s.hookCode(b!, e!, (addr) => this.onTrampoline(addr));
  }

  private assignKfunc(name: string, fn: HelperFn | null): bigint {
    if (this.nextSyntheticKfunc >= PAGE / 16) throw new BpfError({ message: `too many kfuncs (${name})` });
    const addr = LAYOUT.syntheticKfuncs + BigInt(16 * this.nextSyntheticKfunc++);
    this.kfuncAddr.set(name, addr);
    this.targets.set(addr, { name, fn });
    return addr;
  }

  /** Restores jiffies and CPU 0's per-CPU cells (a wild store of an earlier run must not leak into the next). */
  resetKernelData(): void {
    if (!this.kernelCells) {
      const cell = (addr: bigint): [DataView, number] => {
        const r = this.space.owned(pageOf(addr))!;
        return [new DataView(r.mem.bytes.buffer, r.mem.bytes.byteOffset, PAGE), Number(addr & 0xfffn)];
      };
      this.kernelCells = [cell(this.symbols.jiffies), cell(this.symbols.thisCpuOff), cell(this.symbols.cpuNumber)];
    }
    const [[jv, jo], [ov, oo], [cv, co]] = this.kernelCells;
    jv.setBigUint64(jo, this.state.jiffies, true);
    ov.setBigUint64(oo, this.space.gsBase, true);
    cv.setUint32(co, 0, true);
  }
  private kernelCells: [DataView, number][] | null = null;

  /** How the wall-clock limit is enforced (EngineOptions.timer). */
  readonly timer: 'worker' | 'unicorn';

  /** `__bpf_call_base`: a helper/kfunc call's imm is its address minus this. */
  get callBase(): bigint {
    return this.symbols.callBase;
  }

  /** The front end's call resolver: absolute address of a helper (by id) or kfunc (by name). */
  resolveCall(kind: 'helper' | 'kfunc', idOrName: number | string): bigint {
    if (kind === 'helper') {
      const addr = typeof idOrName === 'number' ? this.helperAddr.get(idOrName) : undefined;
      if (addr === undefined) throw new BpfError({ message: `unknown helper id ${String(idOrName)}` });
      return addr;
    }
    const name = String(idOrName);
    return this.kfuncAddr.get(name) ?? this.assignKfunc(name, null);
  }

  /** Name of the helper or kfunc at a call target address (for listings). */
  symbolAt(addr: bigint): string | undefined {
    return this.targets.get(addr)?.name;
  }

  /** Addresses the verifier's inlined sequences read (bpf_get_smp_processor_id, bpf_jiffies64, may_goto). */
  get inlineSymbols(): Pick<KernelSymbols, 'thisCpuOff' | 'cpuNumber' | 'jiffies' | 'timedMayGoto'> {
    return this.symbols;
  }

  /** Creates a map in guest memory; its `ptr` is what ld_imm64 of the map resolves to. */
  addMap(spec: MapSpec): BpfMap {
    const ptr = LAYOUT.maps + BigInt(this.maps.length) * 0x1000000n;
    const map = new BpfMap(spec, ptr);
    if (map.size > 0x1000000) throw new BpfError({ message: `map ${this.maps.length} is too large for the emulator (${map.size} bytes)` });
    this.space.mapExternal(ptr, map.memory.address, map.size, RW, `map ${this.maps.length}`);
    this.maps.push(map);
    this.state.maps.set(ptr, map);
    return map;
  }

  /** Connects an arena (src/arena, native page memory): its pages appear at both addresses, now and as kfuncs change them. */
  setArena(arena: Arena | null): void {
    if (this.arena) {
      for (const p of this.arena.pages()) this.unmapArenaPage(p);
      this.detachArena?.();
      this.detachArena = null;
    }
    this.arena = arena;
    this.state.arena = arena ? arenaKfuncs(arena) : null;
    if (!arena) return;
    for (const p of arena.pages()) this.mapArenaPage(p);
    this.detachArena = arena.addListener({ onMap: (p) => this.mapArenaPage(p), onUnmap: (p) => this.unmapArenaPage(p) });
  }
  private detachArena: (() => void) | null = null;
  private mapArenaPage(p: ArenaPage): void {
    if (p.ptr === null) throw new BpfError({ message: 'the arena needs native page memory to be mapped into the emulator' });
    this.space.mapExternal(p.kernAddr, p.ptr, PAGE, RW, `arena page ${p.pgoff} (kernel)`);
    if (p.userAddr !== null) this.space.mapExternal(p.userAddr, p.ptr, PAGE, RW, `arena page ${p.pgoff} (user)`);
    this.updateEdge(p.kernAddr - BigInt(PAGE));
    this.updateEdge(p.kernAddr);
  }
  /** Keeps a write hook on page `k`'s last 7 bytes exactly while `k` is present and `k + PAGE` is not. */
  private updateEdge(k: bigint): void {
    const want = this.space.region(k) !== undefined && this.space.region(k + BigInt(PAGE)) === undefined;
    const have = this.edgeHooks.get(k);
    if (want && have === undefined) {
      const first = k + BigInt(PAGE - 7);
      this.edgeHooks.set(k, this.space.hookMem(UC.HOOK_MEM_WRITE, (_t, addr, size) => (this.onEdgeWrite?.(addr, size), false), first, first + 6n));
    } else if (!want && have !== undefined) {
      this.space.unhook(have);
      this.edgeHooks.delete(k);
    }
  }
  private unmapArenaPage(p: ArenaPage): void {
    this.space.unmap(p.kernAddr);
    if (p.userAddr !== null) this.space.unmap(p.userAddr);
    this.updateEdge(p.kernAddr);
    this.updateEdge(p.kernAddr - BigInt(PAGE));
  }
  /** Is `addr` inside the arena's kernel area (4 GiB + guards)? */
  inArena(addr: bigint): boolean {
    const a = this.arena;
    return a !== null && addr >= a.kernVmArea.start && addr < a.kernVmArea.end;
  }
  get arenaModel(): Arena | null {
    return this.arena;
  }

  /**
   * Maps the JIT's images at their image bases (replacing a previous program). Images from elsewhere (a
   * kernel dump, random bytes) are decoded first, since Unicorn 2.0.1 aborts the process on some invalid
   * encodings; `trusted` skips that for bpfjit's own JIT output, which contains only what its assembler emits.
   */
  load(functions: readonly JitFunction[], opts: { readonly trusted?: boolean } = {}): void {
    if (opts.trusted !== true) {
      functions.forEach((f, i) => {
        const bad = firstInvalidInsn(f.image);
        if (bad >= 0) throw new BpfError({ message: `function ${i}: image byte offset ${bad}: invalid x86 instruction, not run` });
      });
    }
    this.unload();
    const pages = new Set<bigint>();
    for (const f of functions) {
      for (let p = pageOf(f.imageBase); p < f.imageBase + BigInt(f.image.length); p += BigInt(PAGE)) pages.add(p);
    }
    const sorted = [...pages].sort((a, b) => (a < b ? -1 : 1));
    const regions: bigint[] = [];
    for (let i = 0; i < sorted.length; ) {
      let j = i + 1;
      while (j < sorted.length && sorted[j] === sorted[j - 1]! + BigInt(PAGE)) j++;
      let r: OwnedRegion;
      try {
        r = this.space.map(sorted[i]!, (j - i) * PAGE, RX, 'program image');
      } catch (e) {
        this.unloadRegions(regions);
        throw new BpfError({ message: `cannot place the image: ${(e as Error).message}` });
      }
      r.mem.bytes.fill(0xcc); // the kernel pads images with int3
      regions.push(r.addr);
      i = j;
    }
    for (const f of functions) {
      const r = this.space.owned(pageOf(f.imageBase)) ?? this.space.owned(this.space.find(f.imageBase)!.addr)!;
      r.mem.bytes.set(f.image, Number(f.imageBase - r.addr));
    }
    const insns = functions.flatMap((f) => Array.from(f.extable, (e) => [f.imageBase + BigInt(e.offset), f.imageBase + BigInt(e.offset + e.length - 1)] as const));
    const exHooks = exHookSpans(insns).map(([b, e]) => this.space.hookNoop(b, e));
    this.space.flushCode();
    this.loaded = { functions, regions, extable: exLookup(functions), exHooks };
  }

  unload(): void {
    if (!this.loaded) return;
    for (const h of this.loaded.exHooks) this.space.unhook(h);
    this.unloadRegions(this.loaded.regions);
    this.loaded = null;
  }
  private unloadRegions(regions: readonly bigint[]): void {
    for (const r of regions) {
      const reg = this.space.region(r)!;
      this.space.uc.removeCache(r, r + BigInt(reg.size));
      this.space.unmap(r);
    }
  }

  get program(): Loaded | null {
    return this.loaded;
  }

  run(opts: RunOptions = {}): RunResult {
    if (this.closed) throw new Error('engine is closed');
    if (!this.loaded) throw new BpfError({ message: 'no program loaded' });
    return runProgram(this, this.loaded, opts);
  }

  /** Makes room for a context of `size` bytes. */
  ctxRegion(size: number): OwnedRegion {
    let r = this.space.owned(LAYOUT.ctx)!;
    if (r.mem.size < size) {
      this.space.unmap(LAYOUT.ctx);
      r = this.space.map(LAYOUT.ctx, Math.ceil(size / PAGE) * PAGE, RW, 'context');
    }
    return r;
  }

  private onTrampoline(addr: bigint): void {
    const uc = this.space.uc;
    if (addr === this.symbols.timedMayGoto) return this.timedMayGoto();
    const target = this.targets.get(addr);
    if (!target || !target.fn) {
      this.helperFault = {
        message: target ? `${target.name} is not implemented by the emulator` : `call to 0x${addr.toString(16)}, where no helper or kfunc is`,
        target: addr,
      };
      uc.emuStop();
      return;
    }
    const args = uc.regReadBatch(ARGS);
    const call: HelperCall = {
      args,
      read: (a, size) => (size === 0 ? new Uint8Array(0) : uc.tryMemRead(a, size)),
      write: (a, bytes) => {
        if (bytes.length === 0) return true;
        if (!uc.tryMemRead(a, bytes.length)) return false;
        uc.memWrite(a, bytes);
        return true;
      },
      state: this.state,
    };
    try {
      const result = BigInt.asUintN(64, target.fn(call));
      uc.regWrite(X86.RAX, result);
      this.onCall?.(target.name, args, result);
    } catch (e) {
      this.helperFault = { message: `${target.name}: ${(e as Error).message}`, target: addr };
      uc.emuStop();
    }
  }

  /** arch_bpf_timed_may_goto: r10 (AX) = stack offset of {count, timestamp}; returns the new count in r10. */
  private timedMayGoto(): void {
    const uc = this.space.uc;
    const slot = BigInt.asUintN(64, uc.regRead(X86.RBP) + uc.regRead(X86.R10));
    const ts = uc.tryMemRead(slot + 8n, 8);
    if (!ts) {
      this.helperFault = { message: 'arch_bpf_timed_may_goto: bad stack slot', target: this.symbols.timedMayGoto };
      uc.emuStop();
      return;
    }
    const now = this.state.now();
    const old = new DataView(ts.buffer).getBigUint64(0, true);
    let count = 0xffffn;
    if (old === 0n) {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, now, true);
      uc.memWrite(slot + 8n, b);
    } else if (now - old >= 250_000_000n) count = 0n;
    uc.regWrite(X86.R10, count);
  }

  /** Frees every native resource. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.detachArena?.();
    this.space.close();
    for (const m of this.maps) m.release();
  }
}

export { GPR_IDS };
