// Replays every reproducer in test/regressions/ (minimised programs the differential fuzzer found) through
// both engines. A 'fixed' one must now agree; an 'open' one is a known, explained difference (its note says
// which engine is wrong and why) and must still differ — when it stops differing, mark it fixed. A fixed one
// with "expect": "refused" is a program Linux's verifier refuses, and bpfjit now refuses it too.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { check, EmuPath, reproducerCase, type Reproducer } from '../../src/fuzz/index.js';

const dir = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
const emu = new EmuPath();
afterAll(() => emu.close());

describe(`fuzzer reproducers (${files.length})`, () => {
  test('the directory holds reproducers', () => {
    expect(files.length).toBeGreaterThan(0);
  });
  test.each(files)('%s', (file) => {
    const rep = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Reproducer;
    expect(['open', 'fixed']).toContain(rep.status);
    const c = reproducerCase(rep);
    const v = check(emu, c.prog, c.env);
    if (rep.status === 'fixed') {
      // A program the kernel's verifier refuses is fixed when bpfjit refuses it too ("expect": "refused").
      const want = (rep as Reproducer & { expect?: string }).expect === 'refused' ? 'refused' : 'same';
      expect(v.kind, v.kind === 'diverged' ? v.detail : v.kind === 'crashed' ? v.detail : '').toBe(want);
    } else {
      expect(rep.note, 'an open reproducer says what is known about it').toBeTruthy();
      expect(v.kind, `${file} no longer diverges: mark it "fixed"`).not.toBe('same');
      expect(v.kind).not.toBe('refused');
    }
  });
});
