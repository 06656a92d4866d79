// Adapts the project's arena model (src/arena) to the interpreter's ArenaView, so the interpreter can run
// on the same arena as the emulator (and be compared with it); SparseArena stays the independent model.
import type { Arena } from '../arena/arena.js';
import type { ArenaView } from './arena.js';

const NO_USER_CONV = 1 << 18;
const PAGE = 4096;

export function arenaView(arena: Arena): ArenaView {
  const byte = (off32: number): { bytes: Uint8Array; at: number } | null => {
    const page = arena.pageAtKernOffset(off32 >>> 0);
    return page ? { bytes: page.bytes, at: (off32 >>> 0) % PAGE } : null;
  };
  return {
    get userVmStart() {
      return arena.userVmStart;
    },
    noUserConv: (arena.flags & NO_USER_CONV) !== 0,
    read(off32, size) {
      if (off32 + size > 2 ** 32) return null; // past 4 GiB: the upper guard region
      let v = 0n;
      for (let i = size - 1; i >= 0; i--) {
        const b = byte(off32 + i);
        if (!b) return null; // a missing page anywhere in the access: the load faults (→ 0)
        v = (v << 8n) | BigInt(b.bytes[b.at]!);
      }
      return v;
    },
    write(off32, size, value) {
      if (off32 + size > 2 ** 32) return false;
      const where = Array.from({ length: size }, (_, i) => byte(off32 + i));
      if (where.some((b) => b === null)) return false;
      where.forEach((b, i) => (b!.bytes[b!.at] = Number((value >> BigInt(8 * i)) & 0xffn)));
      return true;
    },
    allocPages: (hint, count, node, flags) => arena.allocPages(hint, count, node, flags),
    freePages: (addr, count) => arena.freePages(addr, count),
  };
}
