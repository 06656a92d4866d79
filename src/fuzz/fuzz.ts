// src/fuzz — the differential fuzzing loop: generated and mutated programs through both engines for a time
// budget; every divergence or crash is minimised and written as a reproducer (test/regressions/*.json).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv, type RunEnv } from '../env.js';
import { decode, encode } from '../isa/codec.js';
import type { Program } from '../isa/insn.js';
import { printProgram } from '../isa/print.js';
import { Rng } from '../kernel/gen.js';
import { check, minimise, type Verdict } from './diff.js';
import { generated, mutableSites, mutate, mutateEnv, type FuzzCase } from './gen.js';
import { EmuPath } from './pipeline.js';

export interface CorpusEntry {
  readonly name: string;
  readonly prog: Program;
  readonly env: RunEnv;
}

/** NAME.bin + NAME.json pairs of corpus directories (missing directories are skipped). */
export function loadCorpus(dirs: readonly string[]): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.bin')).sort()) {
      const name = f.slice(0, -4);
      const side = join(dir, `${name}.json`);
      if (!existsSync(side)) continue;
      try {
        out.push({ name: `${dir}/${name}`, prog: decode(new Uint8Array(readFileSync(join(dir, f)))), env: parseEnv(JSON.parse(readFileSync(side, 'utf8')), side) });
      } catch {
        // a corpus file this build cannot read is not the fuzzer's concern
      }
    }
  }
  return out;
}

export interface Reproducer {
  readonly origin: string;
  readonly verdict: string;
  readonly detail: string;
  /** 'open': a known, unexplained divergence (the replay test expects it to still fail). */
  readonly status: 'open' | 'fixed';
  /** What was found out about it (which engine is wrong, and why). */
  readonly note?: string;
  readonly bytecode: string;
  readonly text: string;
  readonly env: { arena: { pages: number; flags: number; map_extra: string } | null; kfuncs: Record<string, string>; prefault: Record<string, string>; ctx: string };
}

export function reproducer(c: FuzzCase, v: Verdict): Reproducer {
  const detail = v.kind === 'diverged' ? v.detail : v.kind === 'crashed' ? `${v.engine}: ${v.detail.split('\n').slice(0, 4).join(' | ')}` : v.kind === 'explained' ? v.reason : v.kind === 'inconclusive' ? v.detail : v.kind;
  return {
    origin: c.origin,
    verdict: v.kind === 'diverged' ? `diverged ${v.fields.join(',')}` : v.kind,
    detail,
    status: 'open',
    bytecode: Buffer.from(encode(c.prog)).toString('hex'),
    text: printProgram(c.prog),
    env: { ...c.env, arena: c.env.arena ? { ...c.env.arena, map_extra: `0x${c.env.arena.map_extra.toString(16)}` } : null },
  };
}

export function reproducerCase(r: Reproducer): FuzzCase {
  return { prog: decode(new Uint8Array(Buffer.from(r.bytecode, 'hex'))), env: parseEnv(r.env, r.origin), origin: r.origin };
}

export interface FuzzOptions {
  readonly seconds: number;
  readonly seed: number;
  /** Corpus directories whose programs are mutated (about a third of the cases). */
  readonly corpusDirs?: readonly string[];
  /** Where minimised reproducers are written (none when absent). */
  readonly outDir?: string;
  /** Stop after this many programs (default: only the time budget). */
  readonly maxPrograms?: number;
  readonly onProgress?: (s: FuzzStats) => void;
}

export interface FuzzStats {
  programs: number;
  generated: number;
  mutated: number;
  same: number;
  refused: number;
  /** Long runs where one engine hit its limit and the other finished (not compared). */
  inconclusive: number;
  /** Refusal messages (numbers replaced by N) and how often. */
  refusals: Record<string, number>;
  /** Divergences explained by a known difference of the interpreter from the kernel, by reason. */
  explained: Record<string, number>;
  /** Runs where both engines reported the same fault class, by class. */
  faults: Record<string, number>;
  failures: { origin: string; verdict: string; detail: string; file: string | null }[];
  seconds: number;
}

/**
 * The cases of a seed, in order: case i is generated program i, or (about a third, when there is a corpus)
 * a mutated corpus program. Independent of the run results, so any case can be recreated from its number.
 */
export function caseStream(seed: number, corpus: readonly CorpusEntry[]): (i: number) => FuzzCase {
  const r = new Rng(seed ^ 0x1f2e3d4c);
  const sites = new Map<CorpusEntry, Set<number> | null>();
  return (i) => {
    if (corpus.length > 0 && r.chance(0.3)) {
      const base = corpus[r.int(0, corpus.length - 1)]!;
      if (!sites.has(base)) sites.set(base, mutableSites(base.prog, base.env));
      const at = sites.get(base) ?? new Set<number>();
      return { prog: mutate(base.prog, r, r.int(1, 4), at), env: r.chance(0.5) ? mutateEnv(base.env, r) : base.env, origin: `mutated ${base.name} (seed ${seed} case ${i})` };
    }
    return generated(seed, i);
  };
}

/** Case `index` of a seed (replays the stream up to it without running anything). */
export function fuzzCase(seed: number, corpusDirs: readonly string[], index: number): FuzzCase {
  const next = caseStream(seed, loadCorpus(corpusDirs));
  for (let i = 0; i < index; i++) next(i);
  return next(index);
}

export function fuzz(o: FuzzOptions): FuzzStats {
  const next = caseStream(o.seed, loadCorpus(o.corpusDirs ?? []));
  const emu = new EmuPath();
  const s: FuzzStats = { programs: 0, generated: 0, mutated: 0, same: 0, refused: 0, inconclusive: 0, refusals: {}, explained: {}, faults: {}, failures: [], seconds: 0 };
  const seen = new Set<string>();
  const t0 = Date.now();
  let lastProgress = t0;
  try {
    for (let i = 0; (Date.now() - t0) / 1000 < o.seconds && (o.maxPrograms === undefined || i < o.maxPrograms); i++) {
      const c = next(i);
      if (c.origin.startsWith('mutated')) s.mutated++;
      else s.generated++;
      s.programs++;
      const v = check(emu, c.prog, c.env);
      if (v.kind === 'same') {
        s.same++;
        if (v.fault) s.faults[v.fault] = (s.faults[v.fault] ?? 0) + 1;
      } else if (v.kind === 'inconclusive') s.inconclusive++;
      else if (v.kind === 'refused') {
        s.refused++;
        const why = v.message.replace(/\d+/g, 'N').slice(0, 100);
        s.refusals[why] = (s.refusals[why] ?? 0) + 1;
      }
      else if (v.kind === 'explained') s.explained[v.reason.replace(/\(insn [^)]*\)/, '').trim()] = (s.explained[v.reason.replace(/\(insn [^)]*\)/, '').trim()] ?? 0) + 1;
      else {
        const key = v.kind === 'diverged' ? v.fields.join(',') : `${v.engine} ${v.detail.split('\n')[0]}`;
        const m = minimise(emu, c.prog, c.env, 1500);
        const rep = reproducer({ ...c, prog: m.prog, env: m.env }, m.verdict.kind === 'same' || m.verdict.kind === 'refused' ? v : m.verdict);
        let file: string | null = null;
        // One reproducer per kind of failure and size class; the rest are counted.
        const dedupe = `${key} ${m.prog.insns.length}`;
        if (o.outDir && !seen.has(dedupe)) {
          mkdirSync(o.outDir, { recursive: true });
          file = join(o.outDir, `fuzz-${o.seed}-${i}.json`);
          writeFileSync(file, `${JSON.stringify(rep, null, 2)}\n`);
        }
        seen.add(dedupe);
        s.failures.push({ origin: c.origin, verdict: rep.verdict, detail: rep.detail, file });
      }
      if (o.onProgress && Date.now() - lastProgress > 5000) {
        lastProgress = Date.now();
        s.seconds = (lastProgress - t0) / 1000;
        o.onProgress(s);
      }
    }
  } finally {
    emu.close();
  }
  s.seconds = (Date.now() - t0) / 1000;
  return s;
}
