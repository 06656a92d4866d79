// xlated_resolved from the kernel's own dump + image: reproduces the corpus's recorded field exactly
// (no bpf() needed: the corpus holds what the kernel dumped).
import { describe, expect, test } from 'vitest';
import { resolveXlated } from '../../src/kernel/resolve.js';
import { allPrograms, hexToBytes } from '../helpers/corpus.js';

const { source, programs } = allPrograms();

describe(`resolveXlated over the ${source} corpus (${programs.length} programs)`, () => {
  test('xlated_resolved, kern_vm_start, map_ptr and the ld_imm64 checks match the recorded ones', () => {
    const bad: string[] = [];
    for (const p of programs) {
      const k = p.kernel();
      const r = resolveXlated({
        xlated: hexToBytes(k.xlated),
        jited: hexToBytes(k.jited),
        funcLens: k.func_lens,
        userVmStart: k.user_vm_start === null ? null : BigInt(k.user_vm_start),
      });
      const got = Buffer.from(r.xlatedResolved).toString('hex');
      const hexOrNull = (x: bigint | null) => (x === null ? null : `0x${x.toString(16)}`);
      const problems: string[] = [];
      if (got !== k.xlated_resolved) problems.push('xlated_resolved');
      if (hexOrNull(r.kernVmStart) !== k.kern_vm_start) problems.push(`kern_vm_start ${hexOrNull(r.kernVmStart)}`);
      // Without a map ld_imm64 the image has no map pointer; the oracle reads it from its own probe program.
      if (r.mapPtr !== null && hexOrNull(r.mapPtr) !== k.map_ptr) problems.push(`map_ptr ${hexOrNull(r.mapPtr)}`);
      if (JSON.stringify(r.ldImm64Checked) !== JSON.stringify(k.ld_imm64_checked)) problems.push(`ld_imm64_checked ${JSON.stringify(r.ldImm64Checked)}`);
      if (r.notes.length) problems.push(`notes ${r.notes.join('; ')}`);
      if (problems.length) bad.push(`${p.id}: ${problems.join(', ')}`);
    }
    expect(bad.slice(0, 10)).toEqual([]);
  });
});
