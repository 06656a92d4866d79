// src/jit — exception-table records: one per arena access (PROBE_MEM32/PROBE_MEM32SX/PROBE_ATOMIC) and
// per BTF-pointer probe load. Written only in the image pass, like the kernel's extable.

import type { ExEntry } from './types.js';
import type { FnState } from './lower/state.js';

export function addExEntry(
  st: FnState,
  pc: number,
  start: number,
  kind: ExEntry['kind'],
  clearReg: number | null,
  addrReg: number,
  off: number,
): void {
  const length = st.a.pos - start;
  st.exSeq++;
  st.exStart = start;
  st.exLen = length;
  st.exClear = clearReg ?? -1;
  st.exAddr = addrReg;
  st.exKind = kind === 'load' ? 0 : kind === 'store' ? 1 : 2;
  if (!st.final) return;
  st.extable.push(exEntry(start, length, clearReg, addrReg, off, pc, kind));
}

/** Entry kinds by their small-integer code (the layout's per-instruction records). */
export const EX_KINDS: readonly ExEntry['kind'][] = ['load', 'store', 'atomic'];

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
export function findExEntry(table: readonly ExEntry[], offset: number): ExEntry | undefined {
  let lo = 0;
  let hi = table.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const e = table[mid]!;
    if (offset < e.offset) hi = mid - 1;
    else if (offset >= e.offset + e.length) lo = mid + 1;
    else return e;
  }
  return undefined;
}
