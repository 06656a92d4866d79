// Loads, stores and atomics (LDX, ST, STX classes) for the interpreter, both dialects:
// standard MEM/MEMSX/ATOMIC and the kernel-internal PROBE_MEM32/PROBE_MEM32SX/PROBE_ATOMIC arena forms.
import { AtomicOp, Class, Mode, SIZE_BYTES, insnClass, insnMode, insnSize } from '../isa/opcodes.js';
import type { Dialect, Insn } from '../isa/insn.js';
import { signExtend } from './alu.js';
import { Fault, type AccessSize, type Memory } from './memory.js';

/** Register file access the memory operations need. */
export interface Regs {
  get(r: number): bigint;
  set(r: number, v: bigint): void;
}

const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** Address = base register + signed 16-bit offset, wrapping like the hardware. */
function address(base: bigint, off: number): bigint {
  return u64(base + BigInt(off));
}

/** Executes one LDX/ST/STX instruction. */
export function execMem(insn: Insn, regs: Regs, mem: Memory, dialect: Dialect): void {
  const cls = insnClass(insn.code);
  const mode = insnMode(insn.code);
  const size = SIZE_BYTES[insnSize(insn.code)] as AccessSize;
  const xlated = dialect === 'kernel-xlated';

  if (cls === Class.LDX) {
    const addr = address(regs.get(insn.src), insn.off);
    switch (mode) {
      case Mode.MEM:
        regs.set(insn.dst, mem.load(addr, size));
        return;
      case Mode.MEMSX:
        if (size === 8) throw new Fault('sign-extending load of 8 bytes does not exist (MEMSX takes B, H or W)');
        regs.set(insn.dst, signExtend(mem.load(addr, size), size * 8));
        return;
    }
    if (xlated) {
      switch (mode) {
        case Mode.PROBE_MEM32:
          regs.set(insn.dst, mem.loadArena(addr, size));
          return;
        case Mode.PROBE_MEM32SX:
          if (size === 8) break;
          regs.set(insn.dst, signExtend(mem.loadArena(addr, size), size * 8));
          return;
        case 0x20: // PROBE_MEM: a kernel-pointer load that reads 0 when it faults
          regs.set(insn.dst, probeLoad(mem, addr, size));
          return;
        case 0x40: // PROBE_MEMSX
          if (size === 8) break;
          regs.set(insn.dst, signExtend(probeLoad(mem, addr, size), size * 8));
          return;
      }
    }
    throw new Fault(`invalid load mode 0x${mode.toString(16)}`);
  }

  if (cls === Class.ST) {
    const addr = address(regs.get(insn.dst), insn.off);
    const value = u64(BigInt(insn.imm)); // the immediate is sign-extended, then truncated to the size
    if (mode === Mode.MEM) return mem.store(addr, size, value);
    if (xlated && mode === Mode.PROBE_MEM32) {
      mem.storeArena(addr, size, value);
      return;
    }
    if (xlated && mode === Mode.NOSPEC) return; // speculation barrier: nothing to do in an interpreter
    throw new Fault(`invalid store mode 0x${mode.toString(16)}`);
  }

  // STX
  if (mode === Mode.MEM) return mem.store(address(regs.get(insn.dst), insn.off), size, regs.get(insn.src));
  if (xlated && mode === Mode.PROBE_MEM32) {
    mem.storeArena(address(regs.get(insn.dst), insn.off), size, regs.get(insn.src));
    return;
  }
  if (mode === Mode.ATOMIC) return atomic(insn, size, regs, mem, false);
  if (xlated && mode === Mode.PROBE_ATOMIC) return atomic(insn, size, regs, mem, true);
  throw new Fault(`invalid store mode 0x${mode.toString(16)}`);
}

function probeLoad(mem: Memory, addr: bigint, size: AccessSize): bigint {
  try {
    return mem.load(addr, size);
  } catch (e) {
    if (e instanceof Fault) return 0n;
    throw e;
  }
}

/**
 * Atomic operations. On an arena page that is not allocated the kernel's exception table skips the
 * instruction and leaves every register unchanged, so nothing happens here either.
 */
function atomic(insn: Insn, size: AccessSize, regs: Regs, mem: Memory, probe: boolean): void {
  const imm = insn.imm;
  const ld = (addr: bigint): bigint => (probe ? mem.loadArena(addr, size) : mem.load(addr, size));
  const st = (addr: bigint, v: bigint): void => {
    if (probe) mem.storeArena(addr, size, v);
    else mem.store(addr, size, v);
  };
  const missing = (addr: bigint): boolean =>
    probe ? !presentProbe(mem, addr, size) : mem.isArena(addr) && !mem.arenaPresent(addr, size);

  if (imm === AtomicOp.LOAD_ACQ) {
    const addr = address(regs.get(insn.src), insn.off);
    if (missing(addr)) return;
    regs.set(insn.dst, ld(addr));
    return;
  }
  if (imm === AtomicOp.STORE_REL) {
    const addr = address(regs.get(insn.dst), insn.off);
    if (missing(addr)) return;
    st(addr, regs.get(insn.src));
    return;
  }
  if (size !== 4 && size !== 8) throw new Fault(`atomic operation 0x${imm.toString(16)} needs a 4- or 8-byte size`);
  const bits = BigInt(size * 8);
  const mask = (1n << bits) - 1n;
  const addr = address(regs.get(insn.dst), insn.off);
  const src = regs.get(insn.src) & mask;
  const op = imm & ~AtomicOp.FETCH;
  const fetch = (imm & AtomicOp.FETCH) !== 0;
  let next: (old: bigint) => bigint;
  switch (imm) {
    case AtomicOp.XCHG:
      if (missing(addr)) return;
      regs.set(insn.src, ld(addr));
      st(addr, src);
      return;
    case AtomicOp.CMPXCHG: {
      if (missing(addr)) return;
      const old = ld(addr);
      if (old === (regs.get(0) & mask)) st(addr, src);
      regs.set(0, old); // 32-bit: the fetched value is zero-extended into r0
      return;
    }
  }
  switch (op) {
    case AtomicOp.ADD:
      next = (old) => (old + src) & mask;
      break;
    case AtomicOp.OR:
      next = (old) => old | src;
      break;
    case AtomicOp.AND:
      next = (old) => old & src;
      break;
    case AtomicOp.XOR:
      next = (old) => old ^ src;
      break;
    default:
      throw new Fault(`invalid atomic operation imm 0x${imm.toString(16)}`);
  }
  if ((imm & ~0xf1) !== 0) throw new Fault(`invalid atomic operation imm 0x${imm.toString(16)}`);
  if (missing(addr)) return;
  const old = ld(addr);
  st(addr, next(old));
  if (fetch) regs.set(insn.src, old);
}

function presentProbe(mem: Memory, off: bigint, size: AccessSize): boolean {
  const a = BigInt.asIntN(64, off);
  if (!mem.arena || a < 0n || a > 0xffffffffn) return false;
  return mem.arena.read(Number(a), size) !== null;
}
