// The verifier's PTR_TO_ARENA register type, followed at run time. Linux 6.18 (adjust_reg_min_max_vals)
// turns every ALU64 operation with an arena pointer operand (dst, or the X-form src) into the ALU32 form
// (aux->needs_zext, then do_misc_fixups), and the result is an arena pointer. Learned from the verifier's
// source and checked on this host's kernel:
//   - arena pointers come from addr_space_cast(rX, 0, 1) only (a kfunc's r0, map-value ld_imm64 and
//     cast-to-user give scalars);
//   - mov64 copies the type; mov32, movsx, neg, end, loads and constants give scalars;
//   - any other ALU op with an arena operand keeps (or makes) dst an arena pointer;
//   - an 8-byte spill to the stack keeps the type and an 8-byte fill restores it (any other write to the
//     slot makes it plain data), also through a copy of r10 and in a caller's frame;
//   - the conversion belongs to the instruction: once seen with an arena operand, it is 32-bit on every path.
// Only the executed path is seen here: an instruction that meets an arena pointer only on a path this run does
// not take is still run as 64-bit (the verifier, which explores every path, would have converted it).
import { Layout } from './memory.js';

const STACK_LO = Layout.STACK_TOP - BigInt(Layout.FRAME_SIZE * Layout.MAX_FRAMES);

export class ArenaTags {
  /** Registers r0..r11 holding an arena pointer. */
  readonly regs = new Uint8Array(12);
  /** 8-byte stack slots (by address) holding a spilled arena pointer, with the value spilled. */
  private readonly spills = new Map<bigint, bigint>();
  /** ALU64 instructions (slot index) seen with an arena operand: run as ALU32 from then on. */
  private readonly converted: Uint8Array;

  constructor(slots: number) {
    this.converted = new Uint8Array(slots);
  }

  /**
   * An ALU operation other than MOV/NEG/END: whether it runs as 32-bit. Updates dst's type (arena when either
   * operand is one, else scalar).
   */
  alu(pc: number, is64: boolean, dst: number, src: number | undefined): boolean {
    const arena = this.regs[dst] === 1 || (src !== undefined && this.regs[src] === 1);
    this.regs[dst] = arena ? 1 : 0;
    if (!is64) return true;
    if (arena) this.converted[pc] = 1;
    return this.converted[pc] === 1;
  }

  set(reg: number, arena: boolean): void {
    this.regs[reg] = arena ? 1 : 0;
  }

  /** A store of `size` bytes at `addr`; `spilled` is the stored register when it is an arena pointer. */
  store(addr: bigint, size: number, spilled?: { value: bigint }): void {
    if (addr + BigInt(size) <= STACK_LO || addr >= Layout.STACK_TOP) return;
    if (spilled && size === 8 && (addr & 7n) === 0n) {
      this.spills.set(addr, spilled.value);
      return;
    }
    if (this.spills.size === 0) return;
    for (let a = addr & ~7n; a < addr + BigInt(size); a += 8n) this.spills.delete(a);
  }

  /** Whether an 8-byte load of `value` from `addr` fills a spilled arena pointer. */
  fill(addr: bigint, value: bigint): boolean {
    const v = this.spills.get(addr);
    // A helper may have rewritten the slot (the verifier then sees plain data): the value must still match.
    return v !== undefined && v === value;
  }

  /** The arena pointer spilled at `addr`, if any. */
  spilledAt(addr: bigint): bigint | undefined {
    return this.spills.get(addr);
  }

  /** A frame's stack is gone (return from a bpf-to-bpf call): its spills with it. */
  dropFrame(lo: bigint, hi: bigint): void {
    for (const a of this.spills.keys()) if (a >= lo && a < hi) this.spills.delete(a);
  }
}
