// `bpfjit asm` and `bpfjit disasm` as a user runs them: a separate node process on the built CLI.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePrograms, hexToBytes, REPO_ROOT } from '../helpers/corpus.js';

let build = '';
let work = '';

beforeAll(() => {
  // A private build (other test files may be rebuilding dist/ at the same time), inside the repository so
  // that node finds node_modules; package.json marks its .js files as ES modules.
  const cache = join(REPO_ROOT, 'node_modules/.cache');
  mkdirSync(cache, { recursive: true });
  build = mkdtempSync(join(cache, 'bpfjit-isa-build-'));
  writeFileSync(join(build, 'package.json'), '{"type":"module"}\n');
  work = mkdtempSync(join(tmpdir(), 'bpfjit-isa-cli-'));
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json', '--outDir', build, '--incremental', 'false', '--declaration', 'false', '--sourceMap', 'false', '--noCheck'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  // Emit only (--noCheck): type checking is tsc's job in the build; a half-finished module elsewhere
  // cannot stop the CLI from being emitted.
  expect(existsSync(join(build, 'cli/main.js'))).toBe(true);
}, 180_000);

afterAll(() => {
  rmSync(build, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

function bpfjit(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(build, 'cli/main.js'), ...args], { cwd: work, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const programs = fixturePrograms();
const arenaProg = programs.find((p) => Object.keys(p.sidecar().kfuncs).length > 0)!;

describe('bpfjit disasm | bpfjit asm', () => {
  it('gives back the same bytes for corpus programs (standard and kernel-xlated)', () => {
    for (const p of programs.slice(0, 2)) {
      const bin = join(work, `${p.name}.bin`);
      copyFileSync(join(p.dir, `${p.name}.bin`), bin);
      const d = bpfjit('disasm', bin);
      expect(d.code, d.stderr).toBe(0);
      expect(d.stdout.split('\n')[0]).toMatch(/^0: \([0-9a-f]{2}\) /);
      writeFileSync(join(work, `${p.name}.s`), d.stdout);
      const a = bpfjit('asm', `${p.name}.s`, '-o', `${p.name}.out.bin`);
      expect(a.code, a.stderr).toBe(0);
      expect(readFileSync(join(work, `${p.name}.out.bin`)).equals(readFileSync(bin))).toBe(true);

      const xl = join(work, `${p.name}.xlated.bin`);
      writeFileSync(xl, hexToBytes(p.kernel().xlated_resolved));
      const dx = bpfjit('disasm', xl, '--dialect', 'kernel-xlated');
      expect(dx.code, dx.stderr).toBe(0);
      writeFileSync(join(work, `${p.name}.xlated.s`), dx.stdout);
      expect(bpfjit('asm', `${p.name}.xlated.s`, '--dialect', 'kernel-xlated', '-o', 'x.bin').code).toBe(0);
      expect(readFileSync(join(work, 'x.bin')).equals(readFileSync(xl))).toBe(true);
    }
  });

  it('names kfunc calls from the NAME.json sidecar beside NAME.bin', () => {
    const bin = join(work, `${arenaProg.name}.bin`);
    copyFileSync(join(arenaProg.dir, `${arenaProg.name}.bin`), bin);
    copyFileSync(join(arenaProg.dir, `${arenaProg.name}.json`), join(work, `${arenaProg.name}.json`));
    const d = bpfjit('disasm', bin);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/\(85\) call bpf_arena_(alloc|free)_pages#25[78]\n/);
  });

  it('asm without -o prints hex slots, which disasm reads back', () => {
    writeFileSync(join(work, 'small.s'), 'r1 = 0x1122334455667788\nr0 = 0\nexit\n');
    const a = bpfjit('asm', 'small.s');
    expect(a.code).toBe(0);
    expect(a.stdout).toBe('1801000088776655\n0000000044332211\nb700000000000000\n9500000000000000\n');
    writeFileSync(join(work, 'small.hex'), a.stdout);
    const d = bpfjit('disasm', 'small.hex');
    expect(d.stdout).toBe('0: (18) r1 = 0x1122334455667788\n2: (b7) r0 = 0\n3: (95) exit\n');
  });

  it('assembles the conformance syntax', () => {
    writeFileSync(join(work, 'conf.s'), 'mov32 %r0, 1\nlock fetch add [%r10-8], %r0\nexit\n');
    expect(bpfjit('asm', 'conf.s', '--syntax', 'conformance').stdout).toBe('b400000001000000\ndb0af8ff01000000\n9500000000000000\n');
  });
});

describe('errors and exit codes', () => {
  it('--help exits 0 for every command', () => {
    for (const c of ['asm', 'disasm']) {
      const r = bpfjit(c, '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: bpfjit ${c}`);
    }
  });

  it('usage problems exit 2', () => {
    expect(bpfjit('asm').code).toBe(2);
    expect(bpfjit('asm', 'a.s', '--bogus').code).toBe(2);
    expect(bpfjit('disasm', 'a.bin', '--dialect', 'weird').code).toBe(2);
    expect(bpfjit('asm', 'a.s', '--syntax', 'gas').code).toBe(2);
  });

  it('an invalid program lists every problem and exits 1', () => {
    writeFileSync(join(work, 'bad.s'), 'r10 = 1\nr11 = 2\n');
    const r = bpfjit('asm', 'bad.s');
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'insn 0: r10 is the read-only frame pointer and cannot be written',
      'insn 1: dst_reg r11 (AX) exists only in the kernel-xlated dialect',
    ]);
    expect(bpfjit('asm', 'bad.s', '--no-validate').code).toBe(0);
    writeFileSync(join(work, 'bad.bin'), Buffer.from('b70a0000010000009500000000000000', 'hex'));
    const d = bpfjit('disasm', 'bad.bin');
    expect(d.code).toBe(1);
    expect(d.stderr).toContain('insn 0: r10 is the read-only frame pointer');
    expect(bpfjit('disasm', 'bad.bin', '--no-validate').stdout).toBe('0: (b7) r10 = 1\n1: (95) exit\n');
  });

  it('parse errors name the line; truncated bytecode and a broken ELF are refused; missing files exit 1', () => {
    writeFileSync(join(work, 'syntax.s'), 'r0 = 0\nfoo bar\nexit\n');
    const r = bpfjit('asm', 'syntax.s');
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("line 2: cannot parse instruction 'foo bar'");
    writeFileSync(join(work, 'trunc.bin'), Buffer.from('9500000000000000950000', 'hex'));
    expect(bpfjit('disasm', 'trunc.bin').stderr.trim()).toBe('byte offset 8: file size 11 is not a multiple of 8 (3 trailing bytes)');
    writeFileSync(join(work, 'prog.o'), Buffer.from('7f454c4602010100', 'hex'));
    const elf = bpfjit('disasm', 'prog.o');
    expect(elf.code).toBe(1);
    // ELF input goes to the loader, which refuses a truncated header with a located error.
    expect(elf.stderr).toMatch(/^byte offset \d+: .*ELF/);
    expect(bpfjit('disasm', 'missing.bin').code).toBe(1);
  });

  it('never leaves a half-written or clobbered output file', () => {
    writeFileSync(join(work, 'keep.bin'), 'old');
    writeFileSync(join(work, 'bad2.s'), 'r0 = 0\n');
    expect(bpfjit('asm', 'bad2.s', '-o', 'keep.bin').code).toBe(1);
    expect(readFileSync(join(work, 'keep.bin'), 'utf8')).toBe('old');
    expect(bpfjit('asm', 'small.s', '-o', join(work, 'no/such/dir/x.bin')).code).toBe(1);
    expect(readdirSync(work).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
