#!/usr/bin/env node
// `npm run fuzz -- --seconds N --seed S [--out DIR] [--corpus DIR]...`: differential fuzzing (Unicorn path vs
// the reference interpreter) over generated and mutated corpus programs, then corruption fuzzing of every
// entry point. Minimised reproducers go to test/regressions/ (or --out). Exit 1 when anything failed.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { fuzz, corruptionFuzz } = await import(join(root, 'dist/fuzz/index.js'));
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string', default: join(root, 'test/regressions') },
    corpus: { type: 'string', multiple: true },
    'corrupt-share': { type: 'string', default: '0.2' },
  },
});
const seconds = Number(values.seconds);
const seed = Number(values.seed) >>> 0;
const share = Number(values['corrupt-share']);
if (!(seconds > 0) || !Number.isFinite(seed) || !(share >= 0 && share <= 1)) {
  console.error('usage: npm run fuzz -- --seconds N --seed S [--out DIR] [--corpus DIR]... [--corrupt-share F]');
  process.exit(2);
}
const shared = resolve(root, '../shared');
const corpusDirs = values.corpus ?? [
  ...['kernel-corpus', 'kernel-corpus-variety'].map((c) => join(root, 'test/fixtures/corpus', c)),
  ...['kernel-corpus', 'kernel-corpus-variety'].map((c) => join(shared, c)).filter(existsSync),
];
const log = (s) => console.log(`[${s.seconds.toFixed(0)} s] ${s.programs} programs, ${s.failures.length} failures, ${s.refused} refused`);
const diff = fuzz({ seconds: seconds * (1 - share), seed, corpusDirs, outDir: values.out, onProgress: log });
console.log(`differential: ${diff.programs} programs (${diff.generated} generated, ${diff.mutated} mutated corpus) in ${diff.seconds.toFixed(1)} s: ` +
  `${diff.same} equal (same fault: ${JSON.stringify(diff.faults)}), ${diff.refused} refused by the front end, ${diff.inconclusive} inconclusive (one side hit its limit), explained: ${JSON.stringify(diff.explained)}, ${diff.failures.length} divergences/crashes`);
for (const f of diff.failures.slice(0, 20)) console.log(`  ${f.verdict}: ${f.origin}: ${f.detail}${f.file ? ` → ${f.file}` : ''}`);
const corr = corruptionFuzz({ seconds: seconds * share, seed, examplesDir: join(root, 'examples'), corpusDirs });
console.log(`corruption: ${Object.entries(corr.perFormat).map(([k, n]) => `${k} ${n}`).join(', ')} inputs in ${corr.seconds.toFixed(1)} s: ${corr.failures.length} failures`);
for (const f of corr.failures.slice(0, 20)) console.log(`  ${f.format}/${f.stage}: ${f.detail}`);
process.exit(diff.failures.length + corr.failures.length > 0 ? 1 : 0);
