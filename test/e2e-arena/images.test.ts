// The JIT images of every arena fixture equal the running kernel's (`bpfjit diff`: same xlated program fed to
// our JIT with the kernel's addresses), so the emulator runs the code the kernel runs.
import { describe, expect, test } from 'vitest';
import { diffCmd } from '../../src/cli/diff.js';
import { avail, fixture, kernelSkipNote, runCliAsync } from './helpers.js';

const runnable = [
  fixture('guard'), fixture('guard-atomic'), fixture('edge-runtime'), fixture('allocfull'), fixture('userfault', 'noflag'),
  fixture('nouserconv'), fixture('nouserconv', 'conv'),
];

describe.skipIf(!avail.ok)('bpfjit diff: identical to the kernel image', () => {
  for (const f of runnable) {
    test(f.envPath.split('/').at(-1)!, async () => {
      const c = await runCliAsync([f.sPath, '--env', f.envPath], diffCmd);
      expect(c.code).toBe(0);
      expect(c.out.at(-1)).toMatch(/^identical \(\d+ bytes\)$/);
    });
  }
});
if (!avail.ok) test.skip(`images: ${kernelSkipNote}`, () => {});
