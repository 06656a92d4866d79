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
  if (!st.final) return;
  st.extable.push({ offset: start, length: st.a.pos - start, clearReg, addrReg, off, pc, kind });
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
