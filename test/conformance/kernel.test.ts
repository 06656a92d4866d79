// The conformance .data tests on the running kernel (syscall program + BPF_PROG_TEST_RUN): a check of
// the expected values against Linux itself. Only the low 32 bits of r0 come back; programs the verifier
// refuses (it is stricter than the ISA: unreachable code, arithmetic on the context pointer) are listed,
// not failed. Skipped with the reason where bpf() is not permitted.
import { basename, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { GROUPS, listDataFiles, loadEngine, runDataFile, type ConformanceEngine } from '../../src/conformance/index.js';
import { bpfAvailability } from '../../src/kernel/index.js';
import { REPO_ROOT } from '../helpers/corpus.js';

const files = listDataFiles(join(REPO_ROOT, 'test/conformance/data'));
const bpf = bpfAvailability();

describe(`conformance data on the kernel (${files.length} files)`, () => {
  test.skipIf(!bpf.ok)('every file the verifier accepts gives the expected r0', async () => {
    const engine: ConformanceEngine = await loadEngine('kernel');
    const refused: string[] = [];
    const failed: string[] = [];
    for (const f of files) {
      const r = await runDataFile(f, engine, { cpu: 'v4', groups: GROUPS });
      if (r.outcome === 'PASS') continue;
      if (r.reason.startsWith('error: verifier:')) refused.push(`${basename(f)}: ${r.reason.slice(7)}`);
      else failed.push(`${basename(f)}: ${r.reason}`);
    }
    if (refused.length > 0) console.log(`refused by the verifier (checked by the other engines only):\n  ${refused.join('\n  ')}`);
    expect(failed).toEqual([]);
    expect(refused.length).toBeLessThan(files.length / 4);
  }, 120_000);
  if (!bpf.ok) test(`skipped: bpf() not permitted here (${bpf.reason})`, () => {});
});
