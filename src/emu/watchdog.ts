// src/emu — the wall-clock limit: a worker thread that calls uc_emu_stop when a run passes its deadline.
// Unicorn's own timeout starts a thread per uc_emu_start (~0.5 ms); this one worker serves every engine of the
// process (only one run is ever active: uc_emu_start blocks the JavaScript thread) and costs a run a few
// shared-memory writes. It starts at the first run and the first run waits until it is ready, so the process
// never exits while the worker is still loading its native module (which aborts Node).
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// Shared cells (BigInt64Array): 0 active run seq (0 = idle), 1 deadline (ms since epoch), 2 uc handle address,
// 3 seq the worker stopped, 4 ready flag, 5 busy (the worker is about to call uc_emu_stop: disarm waits, so a
// handle is never used after its run ended and the engine may be closed).
const CELLS = 6;
const POLL_MS = 10;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const lib = koffi.load(workerData.libPath);
const stop = lib.func('int uc_emu_stop(uintptr_t uc)');
const cells = new BigInt64Array(workerData.sab);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
Atomics.store(cells, 4, 1n);
Atomics.notify(cells, 4);
for (;;) {
  Atomics.wait(sleeper, 0, 0, ${POLL_MS});
  const seq = Atomics.load(cells, 0);
  if (seq === 0n || Atomics.load(cells, 3) === seq) continue;
  if (BigInt(Date.now()) < Atomics.load(cells, 1)) continue;
  Atomics.store(cells, 5, 1n);
  const handle = Atomics.load(cells, 2);
  if (Atomics.load(cells, 0) === seq && handle !== 0n) {
    Atomics.store(cells, 3, seq);
    stop(handle);
  }
  Atomics.store(cells, 5, 0n);
}
`;

class Watchdog {
  private readonly cells: BigInt64Array;
  private seq = 0n;

  constructor(libPath: string) {
    const sab = new SharedArrayBuffer(CELLS * 8);
    this.cells = new BigInt64Array(sab);
    const koffiPath = createRequire(import.meta.url).resolve('koffi');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sab, libPath, koffiPath } });
    worker.unref();
    worker.on('error', () => {
      /* the limit is then not enforced; runs still finish */
    });
    // The worker is ready within milliseconds; waiting here keeps process exit away from its start-up.
    const pause = new Int32Array(new SharedArrayBuffer(4));
    const until = Date.now() + 10_000;
    while (Atomics.load(this.cells, 4) === 0n && Date.now() < until) Atomics.wait(pause, 0, 0, 2);
  }

  /** Arms the limit for one run of the engine whose native handle is `handle`; returns the run's number. */
  arm(handle: bigint, timeoutMs: number): bigint {
    this.seq++;
    Atomics.store(this.cells, 2, handle);
    Atomics.store(this.cells, 1, BigInt(Date.now() + timeoutMs));
    Atomics.store(this.cells, 0, this.seq);
    return this.seq;
  }
  disarm(): void {
    Atomics.store(this.cells, 0, 0n);
    while (Atomics.load(this.cells, 5) !== 0n) {
      /* the worker is inside its check-and-stop: a few microseconds */
    }
    Atomics.store(this.cells, 2, 0n);
  }
  /** Whether the worker stopped run `seq`. */
  fired(seq: bigint): boolean {
    return Atomics.load(this.cells, 3) === seq;
  }
}

let shared: Watchdog | null = null;

/** The process's watchdog (started on first use). */
export function watchdog(libPath: string): Watchdog {
  shared ??= new Watchdog(libPath);
  return shared;
}
export type { Watchdog };
