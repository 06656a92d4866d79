// The committed example objects are exactly what examples/build.sh makes from the C sources
// (skipped without clang-19: the objects are committed so the other tests never need it).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
let clang = true;
try {
  execFileSync('clang-19', ['--version'], { stdio: 'ignore' });
} catch {
  clang = false;
  console.warn('test/loader/build.test.ts skipped: clang-19 is not installed');
}

describe.skipIf(!clang)('examples/build.sh', () => {
  it('rebuilds every committed .o byte for byte', () => {
    const out = mkdtempSync(join(tmpdir(), 'bpfjit-examples-'));
    try {
      execFileSync('bash', [`${root}examples/build.sh`], { env: { ...process.env, OUT: out }, stdio: 'ignore' });
      const objs = readdirSync(`${root}examples`).filter((f) => f.endsWith('.bpf.o')).sort();
      expect(readdirSync(out).sort()).toEqual(objs);
      for (const f of objs) expect(Buffer.compare(readFileSync(join(out, f)), readFileSync(`${root}examples/${f}`)), f).toBe(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
