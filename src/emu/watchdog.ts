// src/emu — the wall-clock limit: a worker thread that calls uc_emu_stop when a run passes its deadline.
// Unicorn's own timeout starts a thread per uc_emu_start (~0.5 ms); this one lives as long as the engine and
// costs a run a few shared-memory writes.
import { Worker } from 'node:worker_threads';

// Shared cells (BigInt64Array): 0 active run seq (0 = idle), 1 deadline (ms since epoch), 2 uc handle address,
// 3 seq the worker stopped, 4 quit flag.
const CELLS = 5;
const POLL_MS = 10;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const lib = koffi.load(workerData.libPath);
const stop = lib.func('int uc_emu_stop(uintptr_t uc)');
const cells = new BigInt64Array(workerData.sab);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
while (Atomics.load(cells, 4) === 0n) {
  Atomics.wait(sleeper, 0, 0, ${POLL_MS});
  const seq = Atomics.load(cells, 0);
  if (seq === 0n || Atomics.load(cells, 3) === seq) continue;
  if (BigInt(Date.now()) < Atomics.load(cells, 1)) continue;
  const handle = Atomics.load(cells, 2);
  if (Atomics.load(cells, 0) !== seq || handle === 0n) continue;
  Atomics.store(cells, 3, seq);
  stop(handle);
}
`;

export class Watchdog {
  private readonly cells: BigInt64Array;
  private readonly worker: Worker;
  private seq = 0n;

  constructor(libPath: string, koffiPath: string) {
    const sab = new SharedArrayBuffer(CELLS * 8);
    this.cells = new BigInt64Array(sab);
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sab, libPath, koffiPath } });
    this.worker.unref();
  }

  setHandle(address: bigint): void {
    Atomics.store(this.cells, 2, address);
  }

  /** Arms the limit for one run; returns its sequence number. */
  arm(timeoutMs: number): bigint {
    this.seq++;
    Atomics.store(this.cells, 1, BigInt(Date.now() + timeoutMs));
    Atomics.store(this.cells, 0, this.seq);
    return this.seq;
  }
  disarm(): void {
    Atomics.store(this.cells, 0, 0n);
  }
  /** Whether the worker stopped run `seq`. */
  fired(seq: bigint): boolean {
    return Atomics.load(this.cells, 3) === seq;
  }
  close(): void {
    Atomics.store(this.cells, 4, 1n);
    Atomics.store(this.cells, 2, 0n);
    void this.worker.terminate();
  }
}
