// test/e2e-arena — shared plumbing: the arena fixtures (.s + sidecar JSON), `bpfjit run` in-process with its
// output captured, and the same program in the running kernel (BPF_PROG_TEST_RUN) where bpf() is permitted.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { vi } from 'vitest';
import { parseEnv, type RunEnv } from '../../src/env.js';
import { BpfError, UsageError } from '../../src/errors.js';
import { encode } from '../../src/isa/codec.js';
import { parse } from '../../src/isa/parse.js';
import { bpfAvailability, runInKernel, type KernelRecord } from '../../src/kernel/index.js';
import { run } from '../../src/cli/run.js';
import type { Command } from '../../src/cli/command.js';
import { REPO_ROOT } from '../helpers/corpus.js';

export const FIXTURES = join(REPO_ROOT, 'test/fixtures/arena');

export const avail = bpfAvailability();
export const kernelSkipNote = avail.ok ? '' : `SKIPPED: bpf() not permitted here (${avail.reason})`;

export interface Fixture {
  readonly name: string;
  readonly sPath: string;
  readonly envPath: string;
  readonly env: RunEnv;
  readonly bin: Uint8Array;
}

/** NAME.s with NAME.json, or with NAME.VARIANT.json (the same program in another environment). */
export function fixture(name: string, variant?: string): Fixture {
  const sPath = join(FIXTURES, `${name}.s`);
  const envPath = join(FIXTURES, variant ? `${name}.${variant}.json` : `${name}.json`);
  const env = parseEnv(JSON.parse(readFileSync(envPath, 'utf8')), envPath);
  return { name, sPath, envPath, env, bin: encode(parse(readFileSync(sPath, 'utf8'))) };
}

export interface Captured {
  readonly code: number;
  readonly out: string[];
  readonly err: string[];
}

/** A bpfjit command (default `run`) with ARGV in this process, stdout/stderr captured line by line. */
export function runCli(argv: readonly string[], cmd: Command = run): Captured {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void out.push(String(s)));
  const error = vi.spyOn(console, 'error').mockImplementation((s: unknown) => void err.push(String(s)));
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((s: unknown) => {
    out.push(...String(s).replace(/\n$/, '').split('\n'));
    return true;
  });
  try {
    return { code: cmd.run([...argv]) as number, out, err };
  } catch (e) {
    // What src/cli/main.ts does with an error (main.ts runs itself on import, so it is not imported here).
    if (e instanceof UsageError) return { code: 2, out, err: [...err, e.message] };
    if (e instanceof BpfError) return { code: 1, out, err: [...err, e.message] };
    throw e;
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}

export interface RunJson {
  retval: number;
  r0: string;
  ctx: string;
  arenaPages: Record<string, string>;
  arenaAllocated: number[];
  arenaFaults: { insn: number; func: number; kind: 'read' | 'write'; address: string; offset: number }[];
  arenaDump?: { pgoff: number; kernAddr: string; userAddr: string | null; bytes: string | null }[];
  fault: { kind: string; message: string } | null;
}

/** `bpfjit run FIXTURE.s --env FIXTURE.json --json [extra]`. */
export function emuRun(f: Fixture, extra: readonly string[] = []): { code: number; json: RunJson | null; err: string[] } {
  const c = runCli([f.sPath, '--env', f.envPath, '--json', ...extra]);
  const last = c.out.at(-1);
  return { code: c.code, json: last ? (JSON.parse(last) as RunJson) : null, err: c.err };
}

/** The same program and environment in the running kernel. */
export function kernelRun(f: Fixture, env: RunEnv = f.env): KernelRecord {
  return runInKernel(f.bin, env, { name: f.name }).record;
}

/** Page `pg` of a dump ('' → 4096 zero bytes, as dumpPages omits zero pages). */
export function page(pages: Record<string, string>, pg: number): Uint8Array {
  return new Uint8Array(Buffer.from(pages[String(pg)] ?? '00'.repeat(4096), 'hex'));
}

/** runCli for commands whose run() is async (diff). */
export async function runCliAsync(argv: readonly string[], cmd: Command): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void out.push(String(s)));
  const error = vi.spyOn(console, 'error').mockImplementation((s: unknown) => void err.push(String(s)));
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((s: unknown) => {
    out.push(...String(s).replace(/\n$/, '').split('\n'));
    return true;
  });
  try {
    return { code: await cmd.run([...argv]), out, err };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}
