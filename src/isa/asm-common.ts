// Shared machinery of the two assemblers (kernel syntax and bpf_conformance syntax): numbers, registers,
// labels, line-located errors, and the two-pass build from parsed lines to a Program.

import { BpfError, type Diagnostic } from '../errors.js';
import type { Insn, Program } from './insn.js';
import { LD_IMM64 } from './opcodes.js';

/** Thrown inside a line's parser; turned into `line N: message`. */
export class LineError extends Error {}

export function fail(message: string): never {
  throw new LineError(message);
}

/** Where a jump/call's relative target is stored once labels are known. */
export type TargetField = 'off' | 'imm';

export interface PendingInsn {
  fields: { code: number; dst: number; src: number; off: number; imm: number; imm2?: number };
  /** A label to resolve into `field` as (label slot - (pc + 1)). */
  label?: { name: string; field: TargetField };
  line: number;
}

const NUM_RE = /^([+-]?)(0x[0-9a-f]+|\d+)$/i;

/** Parses a decimal or 0x-hex integer with optional sign; undefined when the text is not a number. */
export function parseNumber(text: string): bigint | undefined {
  const m = NUM_RE.exec(text.trim());
  if (!m) return undefined;
  const v = BigInt(m[2]!);
  return m[1] === '-' ? -v : v;
}

/** A number that must fit a 32-bit field (signed or unsigned spelling); returns the signed value. */
export function imm32(text: string, what = 'immediate'): number {
  const v = parseNumber(text);
  if (v === undefined) fail(`expected a number for the ${what}, got '${text}'`);
  if (v < -(1n << 31n) || v >= 1n << 32n) fail(`${what} ${text} does not fit in 32 bits`);
  return Number(BigInt.asIntN(32, v));
}

/** A number that must fit the signed 16-bit offset field (unsigned spelling up to 0xffff accepted). */
export function off16(text: string, what = 'offset'): number {
  const v = parseNumber(text);
  if (v === undefined) fail(`expected a number for the ${what}, got '${text}'`);
  if (v < -(1n << 15n) || v >= 1n << 16n) fail(`${what} ${text} does not fit in 16 bits`);
  return Number(BigInt.asIntN(16, v));
}

/** A signed relative jump/call distance for a 16-bit (off) or 32-bit (imm) field. */
export function relative(text: string, field: TargetField): number {
  const v = parseNumber(text);
  if (v === undefined) fail(`expected a jump offset, got '${text}'`);
  const bits = field === 'off' ? 15n : 31n;
  if (v < -(1n << bits) || v >= 1n << bits) fail(`jump offset ${text} does not fit in ${bits + 1n} bits`);
  return Number(v);
}

/** A 64-bit immediate split into the two slots' imm fields. */
export function imm64Fields(text: string): { imm: number; imm2: number } {
  const v = parseNumber(text);
  if (v === undefined) fail(`expected a 64-bit number, got '${text}'`);
  if (v < -(1n << 63n) || v >= 1n << 64n) fail(`${text} does not fit in 64 bits`);
  const u = BigInt.asUintN(64, v);
  return { imm: Number(BigInt.asIntN(32, u & 0xffffffffn)), imm2: Number(BigInt.asIntN(32, u >> 32n)) };
}

export function isLabelName(text: string): boolean {
  return /^[A-Za-z_.$][\w.$]*$/.test(text);
}

/**
 * Second pass: slot positions, label resolution, range checks. `problems` already holds the first pass's
 * line errors; everything is reported together.
 */
export function buildProgram(pending: readonly PendingInsn[], labels: ReadonlyMap<string, { index: number; line: number }>, problems: Diagnostic[]): Program {
  const slotOf = new Int32Array(pending.length + 1);
  let pc = 0;
  for (let i = 0; i < pending.length; i++) {
    slotOf[i] = pc;
    pc += pending[i]!.fields.code === LD_IMM64 ? 2 : 1;
  }
  slotOf[pending.length] = pc;
  const insns: Insn[] = [];
  for (let i = 0; i < pending.length; i++) {
    const p = pending[i]!;
    const f = { ...p.fields };
    if (p.label) {
      const target = labels.get(p.label.name);
      if (!target) {
        problems.push({ message: `line ${p.line}: unknown label '${p.label.name}'` });
      } else {
        const rel = slotOf[target.index]! - (slotOf[i]! + 1);
        if (p.label.field === 'off' && (rel < -32768 || rel > 32767)) {
          problems.push({ message: `line ${p.line}: label '${p.label.name}' is ${rel} slots away, beyond the 16-bit jump offset (use gotol)` });
        }
        f[p.label.field] = p.label.field === 'off' ? rel : rel | 0;
      }
    }
    const insn: Insn = f.code === LD_IMM64 ? { pc: slotOf[i]!, ...f, imm2: f.imm2 ?? 0 } : { pc: slotOf[i]!, code: f.code, dst: f.dst, src: f.src, off: f.off, imm: f.imm };
    insns.push(insn);
  }
  if (problems.length > 0) throw new BpfError(problems);
  return { insns, slots: pc };
}

/**
 * Runs `parseLine` over each line with comments removed and labels collected; `parseLine` returns the
 * instruction of a line (or undefined for none) and throws LineError on bad input.
 */
export function assembleLines(
  source: string,
  stripComment: (line: string) => string,
  parseLine: (text: string, lineNo: number) => PendingInsn | undefined,
  implicitLabels?: (pending: readonly PendingInsn[]) => ReadonlyMap<string, number>,
): Program {
  const problems: Diagnostic[] = [];
  const pending: PendingInsn[] = [];
  const labels = new Map<string, { index: number; line: number }>();
  const lines = source.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    let text = stripComment(lines[n]!).trim();
    // Labels: `name:` at the start of a line, optionally followed by an instruction.
    for (;;) {
      const m = /^([A-Za-z_.$][\w.$]*):\s*/.exec(text);
      if (!m) break;
      const name = m[1]!;
      const prev = labels.get(name);
      if (prev) problems.push({ message: `line ${lineNo}: label '${name}' already defined on line ${prev.line}` });
      else labels.set(name, { index: pending.length, line: lineNo });
      text = text.slice(m[0].length);
    }
    if (text === '') continue;
    try {
      const p = parseLine(text, lineNo);
      if (p) pending.push(p);
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      problems.push({ message: `line ${lineNo}: ${e.message}` });
    }
  }
  for (const [name, index] of implicitLabels?.(pending) ?? []) {
    if (!labels.has(name)) labels.set(name, { index, line: pending[index]?.line ?? 0 });
  }
  return buildProgram(pending, labels, problems);
}
