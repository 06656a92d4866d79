// bench — start-up cost of the conformance plugin (issue: 300 tests, one process each, in under a minute on
// this machine): every .data test of test/conformance/data through each plugin entry, one process per test
// in sequence as the suite's runner does, timed as wall clock and as the children's CPU time (/proc/self/stat).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const TICK_NS = 1e9 / 100; // USER_HZ

/** CPU time (ns) of this process's waited-for children so far. */
function childrenCpuNs() {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * TICK_NS; // cutime, cstime
}

const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

/** The suite's view of each test: program bytes on stdin, memory as the argument. */
async function cases(root, limit) {
  const conf = await import(join(root, 'dist/conformance/index.js'));
  const out = [];
  for (const f of conf.listDataFiles(join(root, 'test/conformance/data'))) {
    const parsed = conf.parseDataFile(readFileSync(f, 'utf8'), basename(f));
    if (parsed.kind !== 'test') continue;
    const t = parsed.test;
    out.push({ name: t.name, stdin: `${hex(await conf.bytecodeOf(t))}\n`, args: t.mem.length > 0 ? [hex(t.mem)] : [], want: t.error !== '' ? t.error : t.result.toString(16) });
    if (out.length >= limit) break;
  }
  return out;
}

function time(cmd, list) {
  const wall0 = process.hrtime.bigint();
  const cpu0 = childrenCpuNs();
  let wrong = 0;
  for (const c of list) {
    const r = spawnSync(process.execPath, [...cmd, ...c.args], { input: c.stdin, encoding: 'utf8' });
    if (r.stdout.trim() !== c.want) wrong++;
  }
  const n = list.length;
  return { processes: n, wrong, msPerProcess: Number(process.hrtime.bigint() - wall0) / 1e6 / n, cpuMsPerProcess: (childrenCpuNs() - cpu0) / 1e6 / n };
}

export async function benchPlugin(root, quick, log) {
  const list = await cases(root, quick ? 10 : 1000);
  const entries = {
    'node -e 0 (node start, the floor)': { cmd: ['-e', '0'], noCheck: true },
    'dist/conformance/plugin-launcher.cjs (bundle + code cache)': { cmd: [join(root, 'dist/conformance/plugin-launcher.cjs')] },
    'dist/conformance/plugin-main.js (ES modules)': { cmd: [join(root, 'dist/conformance/plugin-main.js')] },
    'bpfjit conformance-plugin (command line)': { cmd: [join(root, 'dist/cli/main.js'), 'conformance-plugin'] },
  };
  time(entries['dist/conformance/plugin-launcher.cjs (bundle + code cache)'].cmd, list.slice(0, 2)); // writes the code cache
  const rows = [];
  for (const [label, e] of Object.entries(entries)) {
    const r = time(e.cmd, list);
    if (e.noCheck) r.wrong = 0;
    const effMs = Math.min(r.msPerProcess, r.cpuMsPerProcess);
    rows.push({ label, ...r, effMsPerProcess: effMs, secondsFor300: (300 * effMs) / 1000 });
    log(`  ${label}: ${r.msPerProcess.toFixed(1)} ms wall, ${r.cpuMsPerProcess.toFixed(1)} ms CPU per process (${r.processes} tests${r.wrong ? `, ${r.wrong} WRONG` : ''})`);
  }
  return rows;
}
