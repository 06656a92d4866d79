// The conformance runner: reads `.data` files, assembles or takes the raw bytecode, decides from the
// instructions which group and CPU version a test needs (skipping what is not enabled), runs the engine
// and compares like the suite: r0 as a u64 when the engine succeeds, the exact message when it fails.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BpfError, formatDiagnostic } from '../errors.js';
import { encode } from '../isa/codec.js';
import { parseDataFile, type DataTest } from './data.js';
import type { ConformanceEngine } from './engine.js';
import { CPU_VERSIONS, requirements, type CpuVersion, type Group } from './requirements.js';

export interface RunnerOptions {
  readonly cpu: CpuVersion;
  readonly groups: readonly Group[];
  /** Only files whose name matches (the suite's include regex); the others are not run nor listed. */
  readonly filter?: RegExp;
}

export type Outcome = 'PASS' | 'FAIL' | 'SKIP';

export interface TestOutcome {
  readonly name: string;
  readonly outcome: Outcome;
  /** Why it failed or was skipped ('' on PASS). */
  readonly reason: string;
}

export interface Summary {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

/** The `.data` files of a directory (or the file itself), sorted by name like the suite. */
export function listDataFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new BpfError({ message: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
  }
  if (st.isFile()) return [path];
  return readdirSync(path)
    .filter((f) => f.endsWith('.data'))
    .sort()
    .map((f) => join(path, f));
}

/** The bytecode of a test: `-- raw` as is, or `-- asm` through the conformance assembler (loaded lazily). */
export async function bytecodeOf(test: DataTest): Promise<Uint8Array> {
  if (test.raw) return test.raw;
  const { parse } = await import('../isa/parse.js');
  return encode(parse(test.asm ?? '', { syntax: 'conformance' }));
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

/** Runs one file. Never throws for a bad test: problems become FAIL or SKIP with a reason. */
export async function runDataFile(file: string, engine: ConformanceEngine, opts: RunnerOptions): Promise<TestOutcome> {
  const name = basename(file);
  const out = (outcome: Outcome, reason = ''): TestOutcome => ({ name, outcome, reason });
  let test: DataTest;
  let bytecode: Uint8Array;
  try {
    const parsed = parseDataFile(readFileSync(file, 'utf8'), name);
    if (parsed.kind === 'skip') return out('SKIP', parsed.reason);
    test = parsed.test;
    bytecode = await bytecodeOf(test);
  } catch (e) {
    if (e instanceof BpfError) {
      const more = e.diagnostics.length > 1 ? ` (and ${e.diagnostics.length - 1} more)` : '';
      return out('FAIL', `bad test file: ${formatDiagnostic(e.diagnostics[0]!)}${more}`);
    }
    if ((e as NodeJS.ErrnoException).code) return out('FAIL', `cannot read: ${(e as NodeJS.ErrnoException).code}`);
    throw e;
  }
  if (bytecode.length === 0) return out('SKIP', 'no instructions in the test file');

  const need = requirements(bytecode);
  if (CPU_VERSIONS.indexOf(need.cpu) > CPU_VERSIONS.indexOf(opts.cpu)) {
    return out('SKIP', `needs CPU version ${need.cpu} (enabled: ${opts.cpu})`);
  }
  const missing = need.groups.filter((g) => !opts.groups.includes(g));
  if (missing.length > 0) return out('SKIP', `needs group ${missing.join(', ')} (not enabled)`);

  const res = await engine.run(bytecode, test.mem);
  if (!res.ok) {
    if (test.error === '') return out('FAIL', `error: ${res.error}`);
    const got = res.error.split('\n').join('').split('\r')[0]!;
    return got === test.error ? out('PASS') : out('FAIL', `error '${got}', expected error '${test.error}'`);
  }
  // As in the suite: a successful run is judged by r0 alone (a test expecting only an error expects r0 = 0).
  const mask = res.width === 32 ? 0xffffffffn : 0xffffffffffffffffn;
  if ((res.r0 & mask) !== (test.result & mask)) {
    const expected = test.error !== '' ? `error '${test.error}'` : hex(test.result);
    return out('FAIL', `r0 = ${hex(res.r0)}, expected ${expected}`);
  }
  return out('PASS');
}

export function formatOutcome(t: TestOutcome): string {
  return t.reason === '' ? `${t.outcome} ${t.name}` : `${t.outcome} ${t.name}: ${t.reason}`;
}

export function summarize(results: readonly TestOutcome[]): Summary {
  const count = (o: Outcome): number => results.filter((r) => r.outcome === o).length;
  return { passed: count('PASS'), failed: count('FAIL'), skipped: count('SKIP') };
}

export function formatSummary(s: Summary): string {
  return `${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`;
}

/** Runs every file, reporting each result as it comes. */
export async function runConformance(
  files: readonly string[],
  engine: ConformanceEngine,
  opts: RunnerOptions,
  onResult?: (t: TestOutcome) => void,
): Promise<TestOutcome[]> {
  const results: TestOutcome[] = [];
  for (const f of files.filter((path) => !opts.filter || opts.filter.test(basename(path)))) {
    const r = await runDataFile(f, engine, opts);
    results.push(r);
    onResult?.(r);
  }
  return results;
}
