// src/jit — exception-table records: one per arena access (PROBE_MEM32/PROBE_MEM32SX/PROBE_ATOMIC) and
// per BTF-pointer probe load. Written only in the image pass, like the kernel's extable, and kept packed
// (four int32 per entry) so that a large arena program's table is one typed array, not a million objects.

import type { ExEntry, ExTable } from './types.js';
import type { FnState } from './lower/state.js';
import type { IntList } from './scratch.js';
import { type InsnTable, TW, W_OFF } from './table.js';

/** Entry kinds by their small-integer code (the packed records). */
export const EX_KINDS: readonly ExEntry['kind'][] = ['load', 'store', 'atomic'];

/** int32 words per packed entry: offset, pc, off, then length | (clearReg + 1) << 8 | addrReg << 13 | kind << 17. */
export const EX_STRIDE = 4;

/** The fourth word of a packed entry. */
export function exBits(length: number, clearReg: number, addrReg: number, kind: number): number {
  return length | ((clearReg + 1) << 8) | (addrReg << 13) | (kind << 17);
}

/** A growable packed table (the image pass appends, the layout merges). */
export class ExTableBuilder {
  a = new Int32Array(16 * EX_STRIDE);
  /** Words in use (EX_STRIDE per entry). */
  n = 0;

  get count(): number {
    return this.n / EX_STRIDE;
  }

  clear(): void {
    this.n = 0;
  }

  push(offset: number, pc: number, off: number, bits: number): void {
    if (this.n + EX_STRIDE > this.a.length) {
      const next = new Int32Array(this.a.length * 2);
      next.set(this.a);
      this.a = next;
    }
    const a = this.a;
    const n = this.n;
    a[n] = offset;
    a[n + 1] = pc;
    a[n + 2] = off;
    a[n + 3] = bits;
    this.n = n + EX_STRIDE;
  }

  /** The entries so far as a table of their own (a copy). */
  build(): PackedExTable {
    return new PackedExTable(this.a.slice(0, this.n));
  }
}

/** The JIT's exception table: EX_STRIDE int32 words per entry, in address order. */
export class PackedExTable implements ExTable {
  readonly length: number;
  /** The packed entries (see EX_STRIDE); read-only by convention. */
  readonly data: Int32Array;

  constructor(data: Int32Array) {
    this.data = data;
    this.length = (data.length / EX_STRIDE) | 0;
  }

  /** Image offset of entry i (no object made). */
  offsetAt(i: number): number {
    return this.data[i * EX_STRIDE]!;
  }

  at(index: number): ExEntry | undefined {
    const i = index < 0 ? index + this.length : index;
    if (!(i >= 0 && i < this.length)) return undefined;
    const d = this.data;
    const w = i * EX_STRIDE;
    const bits = d[w + 3]!;
    const clear = ((bits >> 8) & 0x1f) - 1;
    return exEntry(d[w]!, bits & 0xff, clear < 0 ? null : clear, (bits >> 13) & 0xf, d[w + 2]!, d[w + 1]!, EX_KINDS[(bits >> 17) & 3]!);
  }

  *[Symbol.iterator](): Iterator<ExEntry> {
    for (let i = 0; i < this.length; i++) yield this.at(i)!;
  }

  /** JSON: the entries as objects (what `bpfjit jit --json` prints). */
  toJSON(): ExEntry[] {
    return [...this];
  }
}

/** Kind codes of the packed records (indices into EX_KINDS). */
export const EX_LOAD = 0;
export const EX_STORE = 1;
export const EX_ATOMIC = 2;

/** Records the entry of the access at image offsets [start, end): `kind` an EX_* code, `clearReg` the x86
 *  register a fault zeroes (-1: none), `addrReg` the pointer's register. */
export function addExEntry(st: FnState, pc: number, start: number, end: number, kind: number, clearReg: number, addrReg: number, off: number): void {
  const length = end - start;
  st.exSeq++;
  st.exStart = start;
  st.exLen = length;
  st.exClear = clearReg;
  st.exAddr = addrReg;
  st.exKind = kind;
  if (!st.final) return;
  st.extable.push(start, pc, off, exBits(length, clearReg, addrReg, kind));
}

/** One record; every entry is built here so they all share one object shape. */
export function exEntry(
  offset: number,
  length: number,
  clearReg: number | null,
  addrReg: number,
  off: number,
  pc: number,
  kind: ExEntry['kind'],
): ExEntry {
  return { offset, length, clearReg, addrReg, off, pc, kind };
}

/** The entry covering an image offset, if any (entries are in address order). */
export function findExEntry(table: ExTable, offset: number): ExEntry | undefined {
  let lo = 0;
  let hi = table.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const e = table.at(mid)!;
    if (offset < e.offset) hi = mid - 1;
    else if (offset >= e.offset + e.length) lo = mid + 1;
    else return e;
  }
  return undefined;
}

const EX_REL = 19;
const EX_BITS_MASK = (1 << EX_REL) - 1;

/** The first pass's record of an instruction's exception-table entry, for the image pass to copy: the packed
 *  entry's fourth word (exBits: 19 bits), its start relative to the instruction's (8 bits) from bit EX_REL, and
 *  a present bit; 0 when it does not fit. */
export function packEx(st: FnState, insnStart: number): number {
  const rel = st.exStart - insnStart;
  if (rel < 0 || rel > 0xff || st.exLen > 0xff) return 0;
  return exBits(st.exLen, st.exClear, st.exAddr, st.exKind) | (rel << EX_REL) | (1 << 30);
}

/** The image pass's exception table: the records of the copied instructions (`exInsns`: table indices, `exRecs`:
 *  packEx records) merged, in address order, with any the image pass's lowerings made (both lists are in address
 *  order already). */
export function exceptionTable(st: FnState, t: InsnTable, exInsns: IntList, exRecs: IntList): PackedExTable {
  const made = st.extable;
  if (exInsns.n === 0) return made.build();
  const out = new Int32Array((exInsns.n + made.count) * EX_STRIDE);
  const m = made.a;
  const madeN = made.n;
  const k = mergeEx(out, st.addrs, st.fn.firstPc, t.w, exInsns, exRecs, m, madeN);
  if (k < madeN) out.set(m.subarray(k, madeN), out.length - (madeN - k));
  return new PackedExTable(out);
}

/** exceptionTable's loop, in a function of its own: a loop this long is compiled on the stack (OSR) during the
 *  first calls, and code after it in the same function then has no type feedback (a deoptimisation there on
 *  every call until the feedback arrives). Returns how many words of `m` are left for the end. */
function mergeEx(out: Int32Array, addrs: Int32Array, firstPc: number, tw: Int32Array, exInsns: IntList, exRecs: IntList, m: Int32Array, madeN: number): number {
  const n = exInsns.n;
  const ins = exInsns.a;
  const recs = exRecs.a;
  let w = 0;
  let k = 0; // next word of `m`
  for (let e = 0; e < n; e++) {
    const b = ins[e]! * TW;
    const rec = recs[e]!;
    const pc = tw[b]!;
    const offset = addrs[pc - firstPc]! + ((rec >> EX_REL) & 0xff);
    for (; k < madeN && m[k]! < offset; k += EX_STRIDE, w += EX_STRIDE) out.set(m.subarray(k, k + EX_STRIDE), w);
    out[w] = offset;
    out[w + 1] = pc;
    out[w + 2] = tw[b + W_OFF]!;
    out[w + 3] = rec & EX_BITS_MASK;
    w += EX_STRIDE;
  }
  return k;
}
