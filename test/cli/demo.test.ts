// `npm start` runs `bpfjit demo`: the arena list example end to end. Expected values come from
// examples/arena_list.bpf.c: nr_nodes = 10 nodes with values i + 1, each pushed at the head.
import { beforeAll, expect, test } from 'vitest';
import { ensureBuilt, runCliAsync } from '../helpers/cli.js';

beforeAll(ensureBuilt);

test('demo: object, listing, run, and the list walked from TypeScript', async () => {
  const r = await runCliAsync(['demo']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('build_list  SEC("syscall")');
  expect(r.stdout).toMatch(/; r12 = kern_vm_start/);
  expect(r.stdout).toMatch(/; \.\/arena_list\.bpf\.c:\d+:/);
  expect(r.stdout).toContain('retval 0');
  expect(r.stdout).toContain('head → 10 → 9 → 8 → 7 → 6 → 5 → 4 → 3 → 2 → 1');
  expect(r.stdout).toContain('sum from TypeScript 55, arena_sum computed by BPF 55');
});
