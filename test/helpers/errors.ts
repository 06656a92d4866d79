// The BpfError a bad input must raise (tests of error messages): the call must throw exactly that class.
import { expect } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { loadObject } from '../../src/loader/index.js';

/** The message of the BpfError `f` throws; fails the test when it throws something else or nothing. */
export function bpfErrorMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BpfError);
    return (e as Error).message;
  }
  throw new Error('expected a BpfError');
}

/**
 * The BpfError that loading a patched copy of the ELF object `pristine` raises (`patch` edits the copy in
 * place or returns a new buffer); fails the test when loading succeeds or throws something else.
 */
export function patchedLoadError(pristine: Uint8Array, patch: (b: Uint8Array, v: DataView) => Uint8Array | void): BpfError {
  const b = pristine.slice();
  const out = patch(b, new DataView(b.buffer)) ?? b;
  try {
    loadObject(out);
  } catch (e) {
    if (e instanceof BpfError) return e;
    throw e;
  }
  throw new Error('expected a BpfError');
}
