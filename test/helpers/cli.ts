// Running the built `bpfjit` command from tests. `npm test` builds dist/ before vitest starts (scripts/
// setup.sh); ensureBuilt() rebuilds for a developer running one file, and does not fail on type errors
// elsewhere in the tree (tsc still emits), so a half-edited module cannot break unrelated CLI tests.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
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
  built = true;
}

export function runCli(args: readonly string[], input?: string | Uint8Array): SpawnSyncReturns<string> {
  return spawnSync('node', [CLI, ...args], { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
}
