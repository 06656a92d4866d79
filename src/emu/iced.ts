// src/emu — iced-x86 (the decoder that locates faults and checks foreign images), loaded on first use:
// starting its WebAssembly costs a few hundred milliseconds that a plain `bpfjit run` never needs.
import { createRequire } from 'node:module';
import type * as Iced from 'iced-x86';

const require = createRequire(import.meta.url);
let mod: typeof Iced | undefined;

export function iced(): typeof Iced {
  return (mod ??= require('iced-x86') as typeof Iced);
}
