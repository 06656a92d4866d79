// The short fuzz run of `npm test` (fixed seeds, about a minute in total): differential fuzzing of the Unicorn
// path against the reference interpreter, and corruption fuzzing of every entry point. The long run is
// `npm run fuzz -- --seconds N --seed S`.
import { describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { check, corruptionFuzz, EmuPath, fuzz, minimise } from '../../src/fuzz/index.js';
import { parse } from '../../src/isa/parse.js';
import { parseEnv } from '../../src/env.js';
import { FIXED_HELPER_VALUES } from '../../src/interp/helpers.js';
import { FIXTURE_CORPUS_DIR, REPO_ROOT, SHARED_DIR } from '../helpers/corpus.js';

const corpusDirs = ['kernel-corpus', 'kernel-corpus-variety'].flatMap((c) => [join(FIXTURE_CORPUS_DIR, c), join(SHARED_DIR, c)]);

describe('differential fuzzing', () => {
  test('detects a divergence and minimises it (a helper planted wrong in the emulator)', () => {
    // bpf_get_prandom_u32 answers one more than the interpreter's pinned value on the emulator side only:
    // a divergence on purpose, to prove the harness sees it and minimises the program around the call.
    const wrong = new Map([[7, () => FIXED_HELPER_VALUES.prandom_u32 + 1n]]);
    const prog = parse(['r6 = 5', 'r2 = 7', 'call bpf_get_prandom_u32', 'r3 = r6', 'r0 += r3', 'r0 -= 5', 'exit'].join('\n'));
    const emu = new EmuPath(2000, wrong);
    try {
      const v = check(emu, prog, parseEnv({}));
      expect(v.kind).toBe('diverged');
      if (v.kind === 'diverged') expect(v.fields).toEqual(['r0']);
      const m = minimise(emu, prog, parseEnv({}));
      expect(m.verdict.kind).toBe('diverged');
      expect(m.prog.insns.length).toBeLessThanOrEqual(2); // the call and exit
      expect(m.prog.insns.some((x) => x.imm === 7 && x.code === 0x85)).toBe(true);
    } finally {
      emu.close();
    }
  });

  test('generated and mutated corpus programs: no divergence (seed 20261125, 40 s)', () => {
    const s = fuzz({ seconds: 40, seed: 20261125, corpusDirs });
    console.log(`differential fuzzing: ${s.programs} programs (${s.generated} generated, ${s.mutated} mutated) in ${s.seconds.toFixed(1)} s; ` +
      `${s.same} equal (same fault: ${JSON.stringify(s.faults)}), ${s.refused} refused by the front end`);
    expect(s.programs).toBeGreaterThan(50); // a loaded 2-core CI machine still manages several hundred
    expect(s.refused).toBeLessThan(s.programs / 10);
    expect(s.failures.map((f) => `${f.verdict}: ${f.origin}: ${f.detail}`)).toEqual([]);
  }, 120_000);
});

describe('corruption fuzzing', () => {
  test('bytecode, ELF, assembler text and ENV.json: located BpfError or a result, nothing else (seed 7, 15 s)', () => {
    const s = corruptionFuzz({ seconds: 15, seed: 7, examplesDir: join(REPO_ROOT, 'examples'), corpusDirs: corpusDirs.slice(0, 1) });
    console.log(`corruption fuzzing: ${JSON.stringify(s.perFormat)} in ${s.seconds.toFixed(1)} s, ${s.accepted} accepted all the way`);
    for (const n of Object.values(s.perFormat)) expect(n).toBeGreaterThan(20);
    expect(s.failures.map((f) => `${f.format}/${f.stage}: ${f.detail}`)).toEqual([]);
  }, 120_000);
});
