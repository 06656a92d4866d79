// Arithmetic of the ALU and ALU64 classes, written straight from RFC 9669 with BigInt values.
// Every function takes and returns unsigned 64-bit values; 32-bit forms return zero-extended results.
import { AluOp } from '../isa/opcodes.js';
import { Fault } from './memory.js';

const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const u32 = (v: bigint): bigint => BigInt.asUintN(32, v);
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const s32 = (v: bigint): bigint => BigInt.asIntN(32, v);

/** 64-bit ALU operation (everything except MOV's special offsets and END, handled by the caller). */
export function alu64(op: number, off: number, dst: bigint, src: bigint): bigint {
  switch (op) {
    case AluOp.ADD:
      return u64(dst + src);
    case AluOp.SUB:
      return u64(dst - src);
    case AluOp.MUL:
      return u64(dst * src);
    case AluOp.DIV:
      if (off === 0) return src === 0n ? 0n : dst / src;
      if (off === 1) return src === 0n ? 0n : u64(s64(dst) / s64(src)); // INT_MIN / -1 wraps to INT_MIN
      throw new Fault(`invalid offset ${off} for div (0 = unsigned, 1 = signed)`);
    case AluOp.MOD:
      if (off === 0) return src === 0n ? dst : dst % src;
      if (off === 1) return src === 0n ? dst : u64(s64(dst) % s64(src)); // truncated: sign of the dividend
      throw new Fault(`invalid offset ${off} for mod (0 = unsigned, 1 = signed)`);
    case AluOp.OR:
      return dst | src;
    case AluOp.AND:
      return dst & src;
    case AluOp.XOR:
      return dst ^ src;
    case AluOp.LSH:
      return u64(dst << (src & 63n));
    case AluOp.RSH:
      return dst >> (src & 63n);
    case AluOp.ARSH:
      return u64(s64(dst) >> (src & 63n));
    case AluOp.NEG:
      return u64(-dst);
    case AluOp.MOV:
      return src;
  }
  throw new Fault(`invalid ALU64 operation 0x${op.toString(16)}`);
}

/** 32-bit ALU operation on the low halves; the result is zero-extended. */
export function alu32(op: number, off: number, dst: bigint, src: bigint): bigint {
  const d = u32(dst);
  const s = u32(src);
  switch (op) {
    case AluOp.ADD:
      return u32(d + s);
    case AluOp.SUB:
      return u32(d - s);
    case AluOp.MUL:
      return u32(d * s);
    case AluOp.DIV:
      if (off === 0) return s === 0n ? 0n : d / s;
      if (off === 1) return s === 0n ? 0n : u32(s32(d) / s32(s));
      throw new Fault(`invalid offset ${off} for div32 (0 = unsigned, 1 = signed)`);
    case AluOp.MOD:
      // Modulo by zero leaves dst unchanged — its low half, zero-extended like every 32-bit result.
      if (off === 0) return s === 0n ? d : d % s;
      if (off === 1) return s === 0n ? d : u32(s32(d) % s32(s));
      throw new Fault(`invalid offset ${off} for mod32 (0 = unsigned, 1 = signed)`);
    case AluOp.OR:
      return d | s;
    case AluOp.AND:
      return d & s;
    case AluOp.XOR:
      return d ^ s;
    case AluOp.LSH:
      return u32(d << (s & 31n));
    case AluOp.RSH:
      return d >> (s & 31n);
    case AluOp.ARSH:
      return u32(s32(d) >> (s & 31n));
    case AluOp.NEG:
      return u32(-d);
    case AluOp.MOV:
      return s;
  }
  throw new Fault(`invalid ALU operation 0x${op.toString(16)}`);
}

/** Sign-extends the low `bits` of v to 64 bits (MOVSX, MEMSX). */
export function signExtend(v: bigint, bits: number): bigint {
  return u64(BigInt.asIntN(bits, v));
}

/** Reverses the byte order of the low `bits` of v; the result is zero-extended. */
export function byteSwap(v: bigint, bits: 16 | 32 | 64): bigint {
  let out = 0n;
  for (let i = 0; i < bits / 8; i++) out = (out << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

/**
 * END: ALU class = to_le (source bit 0) / to_be (source bit 1) on a little-endian machine;
 * ALU64 class = unconditional bswap. imm is the width.
 */
export function endian(cls64: boolean, toBe: boolean, dst: bigint, width: number): bigint {
  if (width !== 16 && width !== 32 && width !== 64) throw new Fault(`invalid byte-swap width ${width} (16, 32 or 64)`);
  if (cls64 || toBe) return byteSwap(dst, width);
  return BigInt.asUintN(width, dst); // to_le on little endian: truncate and zero-extend
}
