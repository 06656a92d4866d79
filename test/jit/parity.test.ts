// Byte parity with the running kernel's JIT: the kernel's xlated program, JITed with the same image
// bases, call base and arena addresses, must give exactly the kernel's image (`jited`).
// The whole corpora when ../shared is present; the fixture subset always.
import { describe, expect, test } from 'vitest';
import { jit, jitBytecode, jitImage } from '../../src/jit/index.js';
import { hexToBytes } from '../helpers/corpus.js';
import { allPrograms, fixturePrograms, type CorpusProgram } from '../helpers/corpus.js';
import { corpusJob, explainMismatch } from './corpus-job.js';

function parity(programs: readonly CorpusProgram[]): { identical: number; failures: string[] } {
  let identical = 0;
  const failures: string[] = [];
  for (const p of programs) {
    const job = corpusJob(p);
    try {
      const r = jit(job.prog, job.opts);
      if (Buffer.from(jitImage(r)).toString('hex') === job.jited) identical++;
      else failures.push(`${p.id}:\n${explainMismatch(job, r)}`);
    } catch (e) {
      failures.push(`${p.id}: ${(e as Error).message}`);
    }
  }
  return { identical, failures };
}

describe('JIT byte parity with Linux 6.18', () => {
  test('fixture subset (always present)', () => {
    const programs = fixturePrograms();
    expect(programs.length).toBeGreaterThan(0);
    const { identical, failures } = parity(programs);
    console.log(`jit parity (fixtures): ${identical}/${programs.length} identical`);
    expect(failures.join('\n\n')).toBe('');
  });

  test('jitBytecode (raw bytecode, no Insn objects) gives the same images', () => {
    for (const p of fixturePrograms()) {
      const job = corpusJob(p);
      const r = jitBytecode(hexToBytes(p.kernel().xlated_resolved), job.opts);
      expect(Buffer.from(jitImage(r)).toString('hex')).toBe(job.jited);
    }
    expect(() => jitBytecode(hexToBytes('1801000001000000'))).toThrow('insn 0: truncated ld_imm64');
    expect(() => jitBytecode(hexToBytes('950000000000'))).toThrow('byte offset 0: file size 6');
  });

  const { source, programs } = allPrograms();
  test(`all programs (${source})`, () => {
    if (source === 'fixtures') console.log('jit parity: ../shared corpora not found, only the fixture subset was checked');
    const { identical, failures } = parity(programs);
    const byCorpus = (name: string): string => {
      const ps = programs.filter((p) => p.id.startsWith(`${name}/`));
      const bad = new Set(failures.map((f) => f.split(':')[0]));
      return `${ps.filter((p) => !bad.has(p.id)).length}/${ps.length}`;
    };
    console.log(
      `jit parity (${source}): ${identical}/${programs.length} identical ` +
        `(kernel-corpus ${byCorpus('kernel-corpus')}, kernel-corpus-variety ${byCorpus('kernel-corpus-variety')})`,
    );
    expect(failures.slice(0, 5).join('\n\n')).toBe('');
  });
});
