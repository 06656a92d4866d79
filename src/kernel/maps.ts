// src/kernel — the non-arena maps of an ELF object (arrays, hashes, .data/.rodata/.bss), created in the
// kernel as libbpf would: BPF_MAP_CREATE, element 0 written with the initial value, .rodata frozen. Their
// fds replace the program's map-index placeholders (ld_imm64 src 1/2, imm = index).
import { mapCreate, mapFreeze, mapUpdateElem } from './bpf.js';
import { closeFd } from './sys.js';

/** What a map needs to exist (the fields of src/loader's BpfMapSpec the kernel uses). */
export interface KernelMapSpec {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly mapExtra: bigint;
  readonly initialValue?: Uint8Array;
  readonly freeze: boolean;
}

const ARENA = 33;

/** Creates every non-arena map; returns index → fd. On failure closes what it made and rethrows. */
export function createMaps(specs: readonly KernelMapSpec[]): Map<number, number> {
  const fds = new Map<number, number>();
  try {
    for (const m of specs) {
      if (m.type === ARENA) continue;
      const fd = mapCreate({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags, mapExtra: m.mapExtra, name: m.name.replace(/[^A-Za-z0-9_.]/g, '_') });
      fds.set(m.index, fd);
      if (m.initialValue) mapUpdateElem(fd, new Uint8Array(4), m.initialValue);
      if (m.freeze) mapFreeze(fd);
    }
    return fds;
  } catch (e) {
    closeMaps(fds);
    throw e;
  }
}

export function closeMaps(fds: ReadonlyMap<number, number>): void {
  for (const fd of fds.values()) closeFd(fd);
}
