// src/emu — one run: set up registers/stack/context, emulate until the program returns, resolve arena faults
// through the exception table, and turn everything else (faults, limits) into a located report.
import type { ExEntry, JitFunction } from '../jit/types.js';
import type { Engine } from './engine.js';
import { REPEAT_ADDR, RETURN_ADDR } from './engine.js';
import type { HookId } from './space.js';
import { LAYOUT } from './layout.js';
import { disasm, locateFault } from './locate.js';
import type { ArenaFault, Fault, FaultKind, RunOptions, RunResult } from './types.js';
import { GPR_IDS, UC, X86, ucStrerror } from './unicorn.js';

export interface Loaded {
  readonly functions: readonly JitFunction[];
  readonly regions: readonly bigint[];
  /** The exception-table entry of the instruction at an address. */
  readonly extable: { get(addr: bigint): { func: number; entry: ExEntry } | undefined };
  readonly exHooks: readonly HookId[];
}

export const DEFAULT_TIMEOUT_MS = 10_000;

/** BPF r0–r10 and AX (r11) → x86 register numbers. */
export const BPF_TO_X86 = [0, 7, 6, 2, 1, 8, 3, 13, 14, 15, 5, 10] as const;
const BPF_REG_IDS = new Int32Array(BPF_TO_X86.map((r) => GPR_IDS[r]!));
const ALL_GPRS = new Int32Array([...GPR_IDS, X86.RIP, X86.EFLAGS]);

/** Function index and BPF slot of an x86 address (pc null in the prologue or outside the program). */
export function bpfLocation(functions: readonly JitFunction[], addr: bigint): { func: number | null; pc: number | null } {
  for (let func = 0; func < functions.length; func++) {
    const f = functions[func]!;
    if (addr < f.imageBase || addr >= f.imageBase + BigInt(f.image.length)) continue;
    const off = Number(addr - f.imageBase);
    const a = f.addrs;
    if (a.length === 0 || off < a[0]!) return { func, pc: null };
    let lo = 0;
    let hi = a.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (a[mid]! <= off) lo = mid;
      else hi = mid - 1;
    }
    const k = Math.min(lo, f.endPc - f.firstPc - 1);
    return { func, pc: f.firstPc + k };
  }
  return { func: null, pc: null };
}

/** Bytes of a present arena page a page-crossing write is about to overwrite. */
interface Saved {
  readonly addr: bigint;
  readonly bytes: Uint8Array;
}

interface Pending {
  resume?: { rip: bigint; clearReg: number | null };
  fault?: { type: number; addr: bigint; rip: bigint };
}

export function runProgram(engine: Engine, loaded: Loaded, opts: RunOptions): RunResult {
  const space = engine.space;
  const count = opts.maxInsns ?? 0;
  // Unicorn 2.0.1 keeps its counting hook and stale translations across runs (a run without a count after one
  // with it may miss its stop address): switching between counted and uncounted runs takes a fresh instance.
  if ((count > 0) !== engine.countMode) {
    space.rebuild();
    engine.countMode = count > 0;
  }
  const ctx = opts.ctx ?? new Uint8Array(0);
  const ctxRegion = engine.ctxRegion(ctx.length);
  // The context page is zero beyond what the previous run's context and the program may have written.
  ctxRegion.mem.bytes.fill(0, ctx.length);
  ctxRegion.mem.bytes.set(ctx);
  engine.resetKernelData();
  const stack = space.owned(LAYOUT.stackTop - BigInt(LAYOUT.stackSize))!;
  stack.mem.bytes.fill(0);
  const rsp = LAYOUT.stackTop - 64n;
  new DataView(stack.mem.bytes.buffer).setBigUint64(LAYOUT.stackSize - 64, RETURN_ADDR, true);
  const entry = loaded.functions[0]!.imageBase;
  const repeat = opts.repeat ?? 1;
  if (!Number.isSafeInteger(repeat) || repeat < 1) throw new RangeError(`repeat must be a positive integer, got ${repeat}`);
  const regs = GPR_IDS.map(() => 0n);
  regs[4] = rsp;
  regs[7] = LAYOUT.ctx;
  // Repeated runs go through the driver (REPEAT_CODE), whose frame sits just above the program's so that the
  // program starts every run with the same rsp as a single run.
  const driver = repeat > 1 ? new DataView(stack.mem.bytes.buffer, stack.mem.bytes.byteOffset + LAYOUT.stackSize - 56, 32) : null;
  if (driver) {
    driver.setBigUint64(0, RETURN_ADDR, true);
    driver.setBigUint64(8, BigInt(repeat), true);
    driver.setBigUint64(16, entry, true);
    driver.setBigUint64(24, LAYOUT.ctx, true);
    regs[4] = rsp + 8n;
  }
  space.uc.regWriteBatch(ALL_GPRS, [...regs, driver ? REPEAT_ADDR : entry, 2n]);

  engine.state.output = [];
  engine.helperFault = null;
  const arenaFaults: ArenaFault[] = [];
  let pending: Pending = {};
  const onEvent = opts.onEvent;
  engine.onCall = onEvent ? (name, args, result) => onEvent({ kind: 'call', name, args, result }) : null;
  engine.onBadAccess = (type, addr) => {
    const rip = space.uc.regRead(X86.RIP);
    const ex = loaded.extable.get(rip);
    const isRead = type === UC.MEM_READ_UNMAPPED || type === UC.MEM_READ_PROT;
    const isWrite = type === UC.MEM_WRITE_UNMAPPED || type === UC.MEM_WRITE_PROT;
    if (pending.resume) return false; // the rest of an access Unicorn split into bytes: one fault per access
    if (ex && (isRead || isWrite) && engine.inArena(addr)) {
      const kern = engine.arenaModel!.kernVmStart;
      const af: ArenaFault = { func: ex.func, pc: ex.entry.pc, kind: isRead ? 'read' : 'write', address: addr, arenaOffset: Number(addr - kern) };
      arenaFaults.push(af);
      opts.onEvent?.({ kind: 'arena-fault', fault: af });
      pending = { resume: { rip: rip + BigInt(ex.entry.length), clearReg: ex.entry.clearReg } };
    } else if (!pending.fault) {
      pending = { fault: { type, addr, rip } };
    }
    return false;
  };

  // A write that crosses from a present arena page into a missing one (or the guard) faults as a whole on the
  // CPU: nothing is written. Unicorn writes the present part first, so its bytes are saved before the write
  // (the engine's edge hooks) and put back when the exception table resolves the fault.
  const edge: { saved: Saved | null } = { saved: null };
  engine.onEdgeWrite = (addr, size) => {
    const next = (addr | 0xfffn) + 1n;
    if (addr + BigInt(size) > next && !space.find(next)) edge.saved = { addr, bytes: space.uc.memRead(addr, Number(next - addr)) };
  };

  // Trace mode: a hook on every instruction of the images, reporting at each BPF instruction's first byte.
  let insns: number | null = null;
  const traceHooks: HookId[] = [];
  let finishTrace = (): void => {};
  if (opts.trace) {
    insns = 0;
    const starts = new Map<bigint, { func: number; pc: number }>();
    loaded.functions.forEach((f, func) => {
      for (let k = 0; k < f.endPc - f.firstPc; k++) {
        if (f.addrs[k + 1]! > f.addrs[k]!) starts.set(f.imageBase + BigInt(f.addrs[k]!), { func, pc: f.firstPc + k });
      }
    });
    let prev: { func: number; pc: number; x86: bigint } | null = null;
    let before = space.uc.regReadBatch(BPF_REG_IDS);
    const emit = (): void => {
      const now = space.uc.regReadBatch(BPF_REG_IDS);
      if (prev) {
        const changed = now.flatMap((v, r) => (v !== before[r] ? [[r, v] as const] : []));
        opts.trace!({ ...prev, changed });
      }
      before = now;
    };
    const onInsn = (addr: bigint): void => {
      insns!++;
      const at = starts.get(addr);
      if (!at) return;
      emit();
      prev = { ...at, x86: addr };
    };
    for (const f of loaded.functions) traceHooks.push(space.hookCode(f.imageBase, f.imageBase + BigInt(f.image.length - 1), onInsn));
    finishTrace = emit;
    space.flushCode();
  }

  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // The wall-clock limit: the shared watchdog thread, or Unicorn's own timer on each uc_emu_start.
  const dog = engine.timer === 'worker' ? space.watchdog : null;
  const seq = dog ? dog.arm(space.uc.handleAddress, timeoutMs) : 0n;
  const deadline = Date.now() + timeoutMs;
  const timedOut = (): boolean => (dog ? dog.fired(seq) : Date.now() >= deadline);
  let fault: Fault | null = null;
  let broken = false;
  const t0 = process.hrtime.bigint();
  let begin = driver ? REPEAT_ADDR : entry;
  try {
    for (;;) {
      pending = {};
      edge.saved = null;
      const timerUs = dog ? 0 : Math.max(1, deadline - Date.now()) * 1000;
      const err = space.uc.emuStart(begin, RETURN_ADDR, timerUs, count);
      const rip = space.uc.regRead(X86.RIP);
      if (pending.resume) {
        const back = edge.saved as Saved | null; // set by the hook during emuStart
        if (back !== null) space.uc.memWrite(back.addr, back.bytes);
        const { rip: next, clearReg } = pending.resume;
        if (clearReg !== null) space.uc.regWrite(GPR_IDS[clearReg]!, 0n);
        begin = next;
        continue;
      }
      if (engine.helperFault) {
        fault = helperFault(engine, loaded);
        break;
      }
      if (pending.fault) {
        // An access to unmapped memory leaves the instance usable (checked for loads, stores, atomics and
        // fetches, with either timer and with counting); rebuilding it would keep ~0.5 MB inside Unicorn 2.0.1.
        fault = memoryFault(engine, loaded, pending.fault);
        break;
      }
      if (err !== UC.ERR_OK) {
        // A CPU exception does not: after a #DE the next uc_emu_start never returns. A fresh instance.
        fault = cpuFault(engine, loaded, err, rip);
        broken = true;
        break;
      }
      if (rip === RETURN_ADDR) break;
      if (timedOut()) {
        fault = limitFault(loaded, 'timeout', `wall-clock limit of ${timeoutMs} ms reached`, rip);
        break;
      }
      if (count > 0) {
        fault = limitFault(loaded, 'insn-limit', `instruction budget of ${count} x86 instructions exhausted`, rip);
        break;
      }
      begin = rip; // a stop meant for an earlier run: carry on
    }
  } finally {
    dog?.disarm();
  }
  const timeNs = Number(process.hrtime.bigint() - t0);
  // The driver's count still includes the run in progress when something stopped it.
  const runs = driver ? repeat - (fault ? Number(driver.getBigUint64(8, true)) : 0) : fault ? 0 : 1;
  if (!fault) finishTrace();
  const r0 = space.uc.regRead(X86.RAX);
  const ctxOut = ctxRegion.mem.bytes.slice(0, ctx.length);
  engine.onBadAccess = null;
  engine.onEdgeWrite = null;
  engine.onCall = null;
  for (const h of traceHooks) space.unhook(h);
  if (traceHooks.length > 0) space.flushCode();
  if (broken) space.rebuild();
  return {
    retval: Number(r0 & 0xffffffffn),
    r0,
    ctx: ctxOut,
    fault,
    arenaFaults,
    output: engine.state.output,
    insns,
    timeNs,
    runs,
  };
}

function codeAt(engine: Engine, addr: bigint, size = 16): Uint8Array {
  const found = engine.space.find(addr);
  const r = found && engine.space.owned(found.addr);
  if (!r) return new Uint8Array(0);
  const off = Number(addr - r.addr);
  return r.mem.bytes.subarray(off, Math.min(off + size, r.mem.size));
}

function where(loaded: Loaded, x86: bigint | null): string {
  if (x86 === null) return '';
  const { func, pc } = bpfLocation(loaded.functions, x86);
  const f = func === null ? '' : func === 0 ? '' : ` (function ${func})`;
  return pc === null ? ` at x86 0x${x86.toString(16)}${f}` : ` at insn ${pc}${f} (x86 0x${x86.toString(16)})`;
}

function makeFault(loaded: Loaded, kind: FaultKind, message: string, x86: bigint | null, text: string | null, exact: boolean, access: bigint | null): Fault {
  const loc = x86 === null ? { func: null, pc: null } : bpfLocation(loaded.functions, x86);
  return { kind, message: message + where(loaded, x86), x86Address: x86, x86Text: text, exact, func: loc.func, pc: loc.pc, accessAddress: access };
}

function memoryFault(engine: Engine, loaded: Loaded, f: { type: number; addr: bigint; rip: bigint }): Fault {
  const uc = engine.space.uc;
  const hex = `0x${f.addr.toString(16)}`;
  if (f.type === UC.MEM_FETCH_UNMAPPED || f.type === UC.MEM_FETCH_PROT) {
    // A `call rel32` to the address leaves its return address on the stack: name the call (e.g. a helper
    // call whose imm points nowhere).
    const ret = uc.tryMemRead(uc.regRead(X86.RSP), 8);
    const site = ret ? new DataView(ret.buffer).getBigUint64(0, true) - 5n : null;
    if (site !== null && bpfLocation(loaded.functions, site).func !== null) {
      const code = codeAt(engine, site, 5);
      const target = code.length === 5 && code[0] === 0xe8 ? site + 5n + BigInt(new DataView(code.buffer, code.byteOffset).getInt32(1, true)) : null;
      if (target === f.addr) {
        const rel = BigInt.asIntN(64, f.addr - engine.callBase);
        const msg = `call to ${hex} (__bpf_call_base ${rel < 0n ? '-' : '+'} 0x${(rel < 0n ? -rel : rel).toString(16)}), where no helper, kfunc or function is`;
        return makeFault(loaded, 'fetch', msg, site, disasm(code, site), true, f.addr);
      }
    }
    return makeFault(loaded, 'fetch', `jump or call to ${hex}, which is not code`, null, null, false, f.addr);
  }
  const write = f.type === UC.MEM_WRITE_UNMAPPED || f.type === UC.MEM_WRITE_PROT;
  const loc = locateFault(codeAt(engine, f.rip, 1024), f.rip, f.addr, (r) => uc.regRead(GPR_IDS[r]!), engine.space.gsBase);
  const stackLo = LAYOUT.stackTop - BigInt(LAYOUT.stackSize);
  const what = f.addr < stackLo && f.addr >= stackLo - 0x10000n ? ' (stack overflow into the guard page below the kernel stack)' : '';
  const msg = `${write ? 'write to' : 'read from'} unmapped address ${hex}${what}`;
  return makeFault(loaded, write ? 'write' : 'read', msg, loc.address, loc.text || null, loc.exact, f.addr);
}

function cpuFault(engine: Engine, loaded: Loaded, err: number, rip: bigint): Fault {
  const text = disasm(codeAt(engine, rip), rip);
  if (err === UC.ERR_INSN_INVALID) {
    return makeFault(loaded, 'invalid-insn', `invalid instruction for the emulated CPU (${text})`, rip, text, false, null);
  }
  const inImage = bpfLocation(loaded.functions, rip).func !== null;
  let why = ucStrerror(err);
  if (err === UC.ERR_EXCEPTION && text.startsWith('int3')) why = inImage ? 'executed int3 padding of the image' : 'executed int3';
  else if (err === UC.ERR_EXCEPTION && /^i?div /.test(text)) why = 'divide error (#DE: division by zero or overflow; the verifier inserts the checks the JIT relies on)';
  return makeFault(loaded, 'trap', why, rip, text, false, null);
}

function helperFault(engine: Engine, loaded: Loaded): Fault {
  const hf = engine.helperFault!;
  // Stopped either on the trampoline (return address on the stack) or just after its `ret`.
  const uc = engine.space.uc;
  const rip = uc.regRead(X86.RIP);
  let call: bigint | null = rip - 5n;
  if (bpfLocation(loaded.functions, rip).func === null) {
    const ret = uc.tryMemRead(uc.regRead(X86.RSP), 8);
    call = ret ? new DataView(ret.buffer).getBigUint64(0, true) - 5n : null;
  }
  const callIn = call !== null && bpfLocation(loaded.functions, call).func !== null ? call : null;
  return makeFault(loaded, 'helper', hf.message, callIn, callIn === null ? null : disasm(codeAt(engine, callIn), callIn), callIn !== null, null);
}

function limitFault(loaded: Loaded, kind: 'timeout' | 'insn-limit', message: string, rip: bigint): Fault {
  return makeFault(loaded, kind, message, rip, null, false, null);
}

/** One line about an arena fault the exception table resolved (`bpfjit run`). */
export function describeArenaFault(f: ArenaFault): string {
  const off = f.arenaOffset < 0 ? `-0x${(-f.arenaOffset).toString(16)}` : `+0x${f.arenaOffset.toString(16)}`;
  const where = f.arenaOffset < 0 ? ', lower guard' : f.arenaOffset >= 2 ** 32 ? ', upper guard' : '';
  return `insn ${f.pc}${f.func ? ` (function ${f.func})` : ''}: ${f.kind} at 0x${f.address.toString(16)} (kern_vm_start${off}${where}): ${f.kind === 'read' ? 'loaded 0' : 'dropped'}`;
}
