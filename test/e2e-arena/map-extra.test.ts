// Acceptance 4: map_extra (and max_entries) validation through `bpfjit run --env`: a bad value is refused with the
// kernel's errno, exit status 1 and one clear line — compared with BPF_MAP_CREATE + mmap on the running kernel.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { KernelArena } from '../../src/kernel/index.js';
import { avail, fixture, kernelSkipNote, runCli } from './helpers.js';

const f = fixture('allocfull');
const dir = mkdtempSync(join(tmpdir(), 'bpfjit-map-extra-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// [what, pages, map_extra, errno of the kernel] — kernel/bpf/arena.c arena_map_alloc() and the mmap of the map:
const cases: [string, number, bigint, string][] = [
  ['not page aligned', 4, 0x100000800n, 'EINVAL'],
  ['all ones (not page aligned)', 4, 0xffffffffffffffffn, 'EINVAL'],
  ['range crosses a 4 GiB boundary (0x1fffff000 + 4 pages)', 4, 0x1fffff000n, 'ERANGE'],
  ['more than 4 GiB of pages', 2 ** 20 + 1, 0n, 'E2BIG'],
  ['past the end of user space', 4, 0x2000000000000n, 'ENOMEM'],
  ['ends exactly at TASK_SIZE + 1 page (0x7ffffffff000)', 1, 0x7ffffffff000n, 'ENOMEM'],
  ['a kernel address (0xffff800000000000)', 1, 0xffff800000000000n, 'EFAULT'],
];

function envFile(pages: number, mapExtra: bigint): string {
  const p = join(dir, `env-${pages}-${mapExtra.toString(16)}.json`);
  // map_extra as a JSON number loses precision above 2^53: written as a decimal string, which ENV.json accepts.
  writeFileSync(p, JSON.stringify({ arena: { pages, flags: 1024, map_extra: mapExtra.toString() }, kfuncs: f.env.kfuncs, ctx: f.env.ctx }));
  return p;
}

describe('bpfjit run refuses bad arena attributes', () => {
  for (const [what, pages, extra, errno] of cases) {
    test(`${what}: exit 1, ${errno}`, () => {
      const c = runCli([f.sPath, '--env', envFile(pages, extra)]);
      expect(c.code).toBe(1);
      expect(c.out).toEqual([]);
      expect(c.err).toHaveLength(1);
      expect(c.err[0]).toMatch(new RegExp(`^arena: .*\\(${errno}\\)$`));
      expect(c.err[0]).not.toMatch(/\n\s+at /); // no stack trace
    });
  }
  test('a good map_extra runs', () => {
    expect(runCli([f.sPath, '--env', envFile(4, 0x7f0000000000n)]).code).toBe(0);
  });
});

describe.skipIf(!avail.ok)('the running kernel refuses them with the same errno', () => {
  for (const [what, pages, extra, errno] of cases) {
    test(what, () => {
      let got = 'no error';
      try {
        KernelArena.create({ pages, flags: 0, map_extra: extra }).close();
      } catch (e) {
        got = (e as Error).message;
      }
      expect(got).toMatch(new RegExp(`: ${errno}\\b`));
    });
  }
});
if (!avail.ok) test.skip(`map_extra: kernel comparison ${kernelSkipNote}`, () => {});
