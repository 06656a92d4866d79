// src/kernel — `corpus build`: random verifier-accepted programs with what the running kernel made of them,
// in the shared corpus's four-file format (NAME.bin, NAME.json, NAME.kernel.json, NAME.kernel.txt).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError } from '../errors.js';
import { encode } from '../isa/codec.js';
import { ProgLoadError, verifierReason } from './bpf.js';
import { generate } from './gen.js';
import { runInKernel } from './oracle.js';

export interface BuildOptions {
  readonly seed: number;
  readonly count: number;
  /** First program index (default 0). */
  readonly start?: number;
  /** Attempts per program before giving up (default 20). */
  readonly maxAttempts?: number;
  readonly onProgram?: (name: string, attempts: number) => void;
}

export interface BuildReport {
  readonly written: number;
  /** Generated programs the verifier refused (each was replaced by the next attempt). */
  readonly refused: number;
  readonly refusals: readonly string[];
}

function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export function corpusName(seed: number, index: number): string {
  return `p${String(index).padStart(5, '0')}_s${seed}`;
}

/** Generates, loads and runs `count` programs; deterministic in the seed (given the same kernel). */
export function buildCorpus(dir: string, o: BuildOptions): BuildReport {
  mkdirSync(dir, { recursive: true });
  let refused = 0;
  const refusals: string[] = [];
  const start = o.start ?? 0;
  for (let index = start; index < start + o.count; index++) {
    const name = corpusName(o.seed, index);
    let done = false;
    for (let attempt = 0; attempt < (o.maxAttempts ?? 20) && !done; attempt++) {
      const g = generate({ seed: o.seed, index, attempt });
      const bin = encode(g.prog);
      try {
        const { record, kernelText } = runInKernel(bin, g.env, { name, verifierText: true });
        const sidecar = {
          name,
          seed: o.seed,
          index,
          body_size: g.bodySize,
          insn_count: g.prog.slots,
          prog_type: 'syscall',
          sleepable: true,
          arena: g.env.arena ? { pages: g.env.arena.pages, flags: g.env.arena.flags, map_extra: Number(g.env.arena.map_extra) } : null,
          kfuncs: g.env.kfuncs,
          prefault: g.env.prefault,
          ctx: g.env.ctx,
          subprog: g.subprog,
          gen_stats: g.stats,
          deterministic: g.nondeterministic.length === 0,
          nondeterministic: g.nondeterministic,
          attempts: attempt + 1,
        };
        writeAtomic(join(dir, `${name}.bin`), bin);
        writeAtomic(join(dir, `${name}.json`), `${JSON.stringify(sidecar, null, 1)}\n`);
        writeAtomic(join(dir, `${name}.kernel.json`), `${JSON.stringify(record, null, 1)}\n`);
        writeAtomic(join(dir, `${name}.kernel.txt`), kernelText ?? '');
        o.onProgram?.(name, attempt + 1);
        done = true;
      } catch (e) {
        if (!(e instanceof ProgLoadError)) throw e;
        refused++;
        if (refusals.length < 20) refusals.push(`${name} attempt ${attempt}: ${verifierReason(e.log)}`);
      }
    }
    if (!done) throw new BpfError({ message: `${name}: the verifier refused ${o.maxAttempts ?? 20} generated programs in a row (last: ${refusals.at(-1) ?? ''})` });
  }
  return { written: o.count, refused, refusals };
}
