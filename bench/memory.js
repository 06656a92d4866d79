// bench — peak memory of one JIT run, in a child process of its own (`node --expose-gc bench/memory.js WORKLOAD
// SLOTS`): prints JSON with the JIT's RSS high-water mark above the RSS before it (a worker thread samples the
// process RSS every millisecond while jit() runs; getrusage maxRSS as a cross-check), and the V8 heap in use
// before, right after (result alive) and after a GC.
import { Worker } from 'node:worker_threads';
import { decode } from '../dist/isa/index.js';
import { jit } from '../dist/jit/index.js';
import { JIT_WORKLOADS } from './programs.js';

const [name, slotsText] = process.argv.slice(2);
const w = JIT_WORKLOADS.find((x) => x.name === name);
if (!w || !/^\d+$/.test(slotsText ?? '')) {
  console.error('usage: node --expose-gc bench/memory.js alu|mixed|arena SLOTS');
  process.exit(2);
}
const gc = globalThis.gc ?? (() => {});
const slots = Number(slotsText);
const prog = decode(w.make(slots));
gc();
gc();
const kib = 1024;
// cells: 0 = stop flag, 1 = highest RSS seen, 2 = samples taken
const cells = new BigInt64Array(new SharedArrayBuffer(24));
const sampler = new Worker(
  `const { workerData } = require('node:worker_threads');
   const c = new BigInt64Array(workerData);
   const nap = new Int32Array(new SharedArrayBuffer(4));
   while (Atomics.load(c, 0) === 0n) {
     const rss = BigInt(process.memoryUsage.rss());
     if (rss > Atomics.load(c, 1)) Atomics.store(c, 1, rss);
     Atomics.add(c, 2, 1n);
     Atomics.wait(nap, 0, 0, 1);
   }`,
  { eval: true, workerData: cells.buffer },
);
while (Atomics.load(cells, 2) < 3n) await new Promise((r) => setTimeout(r, 5));
const before = { maxRss: process.resourceUsage().maxRSS * kib, rss: process.memoryUsage.rss(), heap: process.memoryUsage().heapUsed };
Atomics.store(cells, 1, BigInt(before.rss));
let result = jit(prog, w.opts);
const after = { maxRss: process.resourceUsage().maxRSS * kib, rss: process.memoryUsage.rss(), heap: process.memoryUsage().heapUsed };
Atomics.store(cells, 0, 1n);
await sampler.terminate();
const sampledPeak = Math.max(Number(cells[1]), after.rss);
const bytes = result.functions.reduce((n, f) => n + f.image.length, 0);
result = null;
gc();
const retained = process.memoryUsage().heapUsed;
const peak = Math.max(0, sampledPeak - before.rss, after.maxRss - Math.max(before.maxRss, before.rss));
console.log(JSON.stringify({
  workload: name,
  slots,
  insns: prog.insns.length,
  imageBytes: bytes,
  rssBefore: before.rss,
  maxRssBefore: before.maxRss,
  maxRssAfter: after.maxRss,
  rssPeakSampled: sampledPeak,
  /** RSS the JIT added at its high-water mark (the decoded program is already in rssBefore). */
  jitPeakBytes: peak,
  jitPeakBytesPerInsn: peak / prog.insns.length,
  /** Whole process at its high-water mark (node itself, the decoded Insn objects, the JIT). */
  processPeakBytesPerInsn: after.maxRss / prog.insns.length,
  heapBefore: before.heap,
  heapAfterJit: after.heap,
  heapAfterGc: retained,
}));
