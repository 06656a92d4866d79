// Access to the kernel corpora: a small subset copied into test/fixtures/corpus (always there) and the
// whole corpora in ../shared when present (a developer's machine and CI, not a user's clone).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KernelRecord } from '../../src/kernel/oracle.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED_DIR = process.env.BPFJIT_SHARED ?? resolve(REPO_ROOT, '../shared');
export const FIXTURE_CORPUS_DIR = join(REPO_ROOT, 'test/fixtures/corpus');
export const CORPUS_NAMES = ['kernel-corpus', 'kernel-corpus-variety'] as const;

/** The sidecar NAME.json. */
export interface Sidecar {
  name: string;
  arena: { pages: number; flags: number; map_extra: number } | null;
  kfuncs: Record<string, string>;
  prefault: Record<string, string>;
  ctx: string;
  subprog?: boolean;
  deterministic?: boolean;
  nondeterministic?: string[];
  [key: string]: unknown;
}

/**
 * NAME.kernel.json: what the kernel made of the program (src/kernel writes them: KernelRecord); every corpus
 * program was run, so the result fields are there.
 */
export type KernelResult = KernelRecord & Required<Pick<KernelRecord, 'retval' | 'ctx_out' | 'arena_pages_after' | 'arena_allocated_after'>>;

export interface CorpusProgram {
  /** e.g. "kernel-corpus/p00000_s11" */
  id: string;
  name: string;
  dir: string;
  bin(): Uint8Array;
  sidecar(): Sidecar;
  kernel(): KernelResult;
  /** The verifier-log text lines `N: (op) text`. */
  kernelText(): string;
}

function listDir(dir: string, corpus: string): CorpusProgram[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((f) => {
      const name = f.slice(0, -4);
      const p = (ext: string) => join(dir, name + ext);
      return {
        id: `${corpus}/${name}`,
        name,
        dir,
        bin: () => new Uint8Array(readFileSync(p('.bin'))),
        sidecar: () => JSON.parse(readFileSync(p('.json'), 'utf8')) as Sidecar,
        kernel: () => JSON.parse(readFileSync(p('.kernel.json'), 'utf8')) as KernelResult,
        kernelText: () => readFileSync(p('.kernel.txt'), 'utf8'),
      };
    });
}

/** The programs copied into test/fixtures (always available). */
export function fixturePrograms(): CorpusProgram[] {
  return CORPUS_NAMES.flatMap((c) => listDir(join(FIXTURE_CORPUS_DIR, c), c));
}

/** Every program of the shared corpora, or null when ../shared is not there (say so in the test output). */
export function sharedPrograms(): CorpusProgram[] | null {
  if (!existsSync(join(SHARED_DIR, CORPUS_NAMES[0]))) return null;
  return CORPUS_NAMES.flatMap((c) => listDir(join(SHARED_DIR, c), c));
}

/** Shared corpora when present, else the fixture subset; `source` says which. */
export function allPrograms(): { source: 'shared' | 'fixtures'; programs: CorpusProgram[] } {
  const shared = sharedPrograms();
  return shared ? { source: 'shared', programs: shared } : { source: 'fixtures', programs: fixturePrograms() };
}

export function hexToBytes(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
