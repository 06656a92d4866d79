// Bad input never crashes or hangs the front end: mutated corpus programs either go through or are refused
// with a located BpfError.
import { describe, expect, it } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { decode } from '../../src/isa/index.js';
import { frontEnd } from '../../src/jit/frontend/index.js';
import { fixturePrograms } from '../helpers/corpus.js';
import { baseEnv } from './corpus-env.js';

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('front end on mutated programs', () => {
  it('refuses with a located BpfError or succeeds, for 400 random byte mutations', () => {
    const progs = fixturePrograms();
    const rand = rng(12345);
    let refused = 0;
    let passed = 0;
    for (let n = 0; n < 400; n++) {
      const p = progs[n % progs.length]!;
      const bytes = p.bin().slice();
      const flips = 1 + Math.floor(rand() * 3);
      for (let k = 0; k < flips; k++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      try {
        frontEnd(decode(bytes), baseEnv(p).env);
        passed++;
      } catch (e) {
        expect(e).toBeInstanceOf(BpfError);
        expect((e as Error).message).toMatch(/^(insn|byte offset) \d+: /);
        refused++;
      }
    }
    expect(refused + passed).toBe(400);
  }, 60_000);
});
