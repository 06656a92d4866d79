// Running the built `bpfjit` command from tests. `npm test` builds dist/ before vitest starts (scripts/
// setup.sh); ensureBuilt() rebuilds for a developer running one file, and does not fail on type errors
// elsewhere in the tree (tsc still emits), so a half-edited module cannot break unrelated CLI tests.
import { execFile, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './corpus.js';

export const CLI = join(REPO_ROOT, 'dist/cli/main.js');

let built = false;
export function ensureBuilt(): void {
  if (built || process.env.CI) {
    built = true;
    return;
  }
  spawnSync('npx', ['tsc', '-p', '.'], { cwd: REPO_ROOT, stdio: 'ignore' });
  spawnSync('node', ['scripts/bundle-plugin.mjs'], { cwd: REPO_ROOT, stdio: 'ignore' });
  built = true;
}

export function runCli(args: readonly string[], input?: string | Uint8Array): SpawnSyncReturns<string> {
  return spawnSync('node', [CLI, ...args], { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
}

export interface CliResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Asynchronous form: a long synchronous spawn blocks the vitest worker, whose progress messages to the
 * main process then time out on a loaded machine.
 */
export function runCliAsync(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile('node', [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ status: code, stdout, stderr });
    });
  });
}
