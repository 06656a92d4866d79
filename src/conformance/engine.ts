// The Engine abstraction: something that runs raw BPF bytecode the way the conformance suite's plugin
// does (r1 = pointer to a copy of the input memory, r2 = its length) and returns r0 or an error message.
// The interpreter is one engine; the JIT + Unicorn pipeline is the other. Engines load lazily so the
// plugin process starts fast.
import { UsageError } from '../errors.js';
import type { Group } from './requirements.js';
import type { UnicornEngineHooks } from './unicorn-engine.js';

export type EngineResult =
  /** `width` 32: only the low half of r0 is known (the kernel's retval); compare that much. */
  | { readonly ok: true; readonly r0: bigint; readonly width?: 32 | 64 }
  | { readonly ok: false; readonly error: string };

export interface ConformanceEngine {
  readonly name: string;
  /** Conformance groups the engine implements (informative: `--groups` decides what runs). */
  readonly groups: readonly Group[];
  /** Runs little-endian bytecode; never throws for bad programs (returns { ok: false }). */
  run(bytecode: Uint8Array, mem: Uint8Array): EngineResult | Promise<EngineResult>;
}

export const ENGINE_NAMES = ['interp', 'unicorn', 'kernel'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export function parseEngineName(text: string): EngineName {
  if (!(ENGINE_NAMES as readonly string[]).includes(text)) {
    throw new UsageError(`--engine: expected ${ENGINE_NAMES.join(' or ')}, got '${text}'`);
  }
  return text as EngineName;
}

/** Whether the Unicorn pipeline is available in this build. */
export async function unicornAvailable(): Promise<boolean> {
  try {
    await import('./unicorn-engine.js');
    return true;
  } catch {
    return false;
  }
}

export async function loadEngine(name: EngineName, hooks: UnicornEngineHooks = {}): Promise<ConformanceEngine> {
  if (name === 'interp') return (await import('./interp-engine.js')).interpEngine;
  // Throws BpfUnavailableError (src/kernel) where bpf() is not permitted.
  if (name === 'kernel') return (await import('./kernel-engine.js')).createConformanceEngine();
  let mod: typeof import('./unicorn-engine.js');
  try {
    mod = await import('./unicorn-engine.js');
  } catch (e) {
    throw new UsageError(`the unicorn engine is not available in this build (${(e as Error).message}); use --engine interp`);
  }
  return mod.createConformanceEngine(hooks);
}
