// Truncations and bit flips over real objects: loading must end in a result or a BpfError, never in
// another exception (RangeError, TypeError, stack overflow) and never hang. Seeded, so failures replay.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { kernelBtf, loadObject, parseElf, programEnv } from '../../src/loader/index.js';
import { formatObjectInfo } from '../../src/cli/info.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Outcome of loading: 'ok', or 'error' for a BpfError; anything else is rethrown with the recipe. */
function tryLoad(bytes: Uint8Array, recipe: string): 'ok' | 'error' {
  try {
    const obj = loadObject(bytes);
    for (const p of obj.programs) programEnv(obj, p);
    formatObjectInfo(obj);
    kernelBtf(bytes);
    return 'ok';
  } catch (e) {
    if (e instanceof BpfError) {
      expect(e.message.length).toBeGreaterThan(0);
      return 'error';
    }
    throw new Error(`${recipe}: ${(e as Error).stack ?? String(e)}`);
  }
}

describe.each(['arena_list.bpf.o', 'maps_loop.bpf.o', 'arena_htab.bpf.o'])('fuzzing %s', (file) => {
  const orig = new Uint8Array(readFileSync(`${root}examples/${file}`));
  const elf = parseElf(orig);
  const shoff = Number(new DataView(orig.buffer, orig.byteOffset).getBigUint64(40, true));
  // Regions where a flip matters: the header, the section headers, and every section the loader reads.
  const interesting = ['.symtab', '.strtab', '.BTF', '.BTF.ext', '.maps', '.text', 'syscall', 'xdp', '.rel.text', '.relsyscall', '.relxdp', '.addr_space.1', '.rodata', '.data', 'license'];
  const regions: [number, number][] = [[0, 64], [shoff, shoff + elf.sections.length * 64]];
  for (const s of elf.sections) if (interesting.includes(s.name) && s.data.length > 0) regions.push([s.offset, s.offset + s.size]);

  it('every truncation is a BpfError', () => {
    const rnd = mulberry32(1);
    const lengths = new Set([0, 1, 3, 4, 16, 63, 64, shoff, shoff + 63, orig.length - 1]);
    while (lengths.size < 300) lengths.add(Math.floor(rnd() * orig.length));
    for (const n of lengths) expect(tryLoad(orig.subarray(0, n), `truncate to ${n}`)).toBe('error');
  });

  it('bit flips give a result or a BpfError', () => {
    const rnd = mulberry32(file.length * 7919);
    let errors = 0;
    const N = 1500;
    for (let iter = 0; iter < N; iter++) {
      const b = orig.slice();
      const flips: number[] = [];
      const count = 1 + Math.floor(rnd() * 4);
      for (let k = 0; k < count; k++) {
        const [lo, hi] = regions[Math.floor(rnd() * regions.length)]!;
        const bit = lo * 8 + Math.floor(rnd() * (hi - lo) * 8);
        b[bit >> 3]! ^= 1 << (bit & 7);
        flips.push(bit);
      }
      if (tryLoad(b, `flip bits ${flips.join(',')}`) === 'error') errors++;
    }
    // Most flips in these regions break something; some land on don't-care bits.
    expect(errors).toBeGreaterThan(N / 4);
    expect(errors).toBeLessThan(N);
  });
});
