// src/jit/frontend — constant folding and branch decisions for the front end's constant tracking.
// Only what Linux 6.18's verifier tracks exactly is folded (div/mod, neg, bswap and sign-extending moves
// give unknown values), so a branch the front end decides is one the verifier decides as well.

import { AluOp, JmpOp } from '../../isa/opcodes.js';
import { M32, M64 } from './values.js';

export function sext(v: bigint, bits: number): bigint {
  return BigInt.asIntN(bits, v);
}

/** imm as the 64-bit operand of an ALU64/JMP instruction (sign-extended), unsigned representation. */
export function imm64u(imm: number): bigint {
  return BigInt(imm) & M64;
}

/** ALU result on known operands (unsigned 64-bit representation), or undefined when the verifier loses it. */
export function foldAlu(op: number, is64: boolean, a: bigint, b: bigint): bigint | undefined {
  const bits = is64 ? 64 : 32;
  const m = is64 ? M64 : M32;
  const x = a & m;
  const y = b & m;
  switch (op) {
    case AluOp.ADD:
      return (x + y) & m;
    case AluOp.SUB:
      return (x - y) & m;
    case AluOp.MUL:
      return (x * y) & m;
    case AluOp.OR:
      return x | y;
    case AluOp.AND:
      return x & y;
    case AluOp.XOR:
      return x ^ y;
    case AluOp.LSH:
      return y < BigInt(bits) ? (x << y) & m : undefined;
    case AluOp.RSH:
      return y < BigInt(bits) ? x >> y : undefined;
    case AluOp.ARSH:
      return y < BigInt(bits) ? (sext(x, bits) >> y) & m : undefined;
    default:
      return undefined;
  }
}

/** true/false when a conditional jump on known operands is decided. */
export function decideJump(op: number, is32: boolean, a: bigint, b: bigint): boolean | undefined {
  const bits = is32 ? 32 : 64;
  const m = is32 ? M32 : M64;
  const x = a & m;
  const y = b & m;
  const sx = sext(x, bits);
  const sy = sext(y, bits);
  switch (op) {
    case JmpOp.JEQ:
      return x === y;
    case JmpOp.JNE:
      return x !== y;
    case JmpOp.JGT:
      return x > y;
    case JmpOp.JGE:
      return x >= y;
    case JmpOp.JLT:
      return x < y;
    case JmpOp.JLE:
      return x <= y;
    case JmpOp.JSGT:
      return sx > sy;
    case JmpOp.JSGE:
      return sx >= sy;
    case JmpOp.JSLT:
      return sx < sy;
    case JmpOp.JSLE:
      return sx <= sy;
    case JmpOp.JSET:
      return (x & y) !== 0n;
    default:
      return undefined;
  }
}
