// File helpers for the CLI: atomic writes (never a half-written output file) and input reading.
import { readFileSync, renameSync, writeFileSync, unlinkSync } from 'node:fs';
import { BpfError } from '../errors.js';

/** Writes a file atomically: a temporary file in the same folder, then rename. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to clean */
    }
    throw new BpfError({ message: `cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
  }
}

export function readInput(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new BpfError({ message: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
  }
}
