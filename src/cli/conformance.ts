// `bpfjit conformance` (run bpf_conformance `.data` tests) and `bpfjit conformance-plugin` (the suite's
// plugin protocol). Everything heavy is imported inside run(): the plugin starts once per test.
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type { Command } from './command.js';
import { Exit, parseCommandArgs } from './command.js';
import type { UnicornEngineHooks } from '../conformance/unicorn-engine.js';
import type { TraceStep } from '../emu/index.js';

const ENGINE_HELP = `--engine E      interp (the reference interpreter), unicorn (JIT + emulator) or kernel
                  (this host's bpf(): syscall program + BPF_PROG_TEST_RUN, low 32 bits of r0 only);
                  default: unicorn when this build has it, else interp`;

/** The engine to use, or null (after saying why) when it needs bpf() and that is not permitted here. */
async function pickEngine(value: string | boolean | (string | boolean)[] | undefined, command: string, hooks: UnicornEngineHooks = {}) {
  const engine = await import('../conformance/engine.js');
  try {
    if (typeof value === 'string') return await engine.loadEngine(engine.parseEngineName(value), hooks);
    return await engine.loadEngine((await engine.unicornAvailable()) ? 'unicorn' : 'interp', hooks);
  } catch (e) {
    if ((e as Error).name !== 'BpfUnavailableError') throw e;
    console.error(`bpfjit ${command}: ${(e as Error).message}`);
    return null;
  }
}

export const conformance: Command = {
  name: 'conformance',
  help: `Usage: bpfjit conformance DIR|FILE [--cpu v1..v4] [--groups LIST] [--filter REGEX] [--engine E]

Runs every .data file of DIR (sorted by name) in the format of the bpf_conformance suite and prints one
line per test, then 'N passed, N failed, N skipped'. Exit 0 only if no test failed.
A test needs the highest CPU version and every group of the instructions it uses (as the suite decides);
tests needing more than is enabled are skipped.

  --cpu V         highest CPU version enabled (default v4)
  --groups LIST   comma-separated groups: base32, base64, atomic32, atomic64, divmul32, divmul64,
                  packet, callx, or 'all' (default: the suite's defaults, all but packet and callx)
  --filter REGEX  run only files whose name matches
  ${ENGINE_HELP}`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      cpu: { type: 'string' },
      groups: { type: 'string' },
      filter: { type: 'string' },
      engine: { type: 'string' },
    });
    if (positionals.length !== 1) throw new UsageError('expected one directory or .data file');
    const req = await import('../conformance/requirements.js');
    const cpu = (values.cpu as string | undefined) ?? 'v4';
    if (!(req.CPU_VERSIONS as readonly string[]).includes(cpu)) throw new UsageError(`--cpu: expected v1..v4, got '${cpu}'`);
    let groups: readonly string[] = req.DEFAULT_GROUPS;
    if (typeof values.groups === 'string') {
      groups = values.groups === 'all' ? req.GROUPS : values.groups.split(',').map((g) => g.trim());
      const bad = groups.find((g) => !(req.GROUPS as readonly string[]).includes(g));
      if (bad !== undefined) throw new UsageError(`--groups: unknown group '${bad}' (known: ${req.GROUPS.join(', ')})`);
    }
    let filter: RegExp | undefined;
    if (typeof values.filter === 'string') {
      try {
        filter = new RegExp(values.filter);
      } catch (e) {
        throw new UsageError(`--filter: ${(e as Error).message}`);
      }
    }
    const runner = await import('../conformance/runner.js');
    const files = runner.listDataFiles(positionals[0]!);
    const engine = await pickEngine(values.engine, 'conformance');
    if (engine === null) return Exit.NOT_PERMITTED;
    const results = await runner.runConformance(
      files,
      engine,
      { cpu: cpu as (typeof req.CPU_VERSIONS)[number], groups: groups as (typeof req.GROUPS)[number][], ...(filter ? { filter } : {}) },
      (t) => console.log(runner.formatOutcome(t)),
    );
    const summary = runner.summarize(results);
    console.log(runner.formatSummary(summary));
    return summary.failed === 0 ? Exit.OK : Exit.BAD_INPUT;
  },
};

const DEBUG_VIEWS = ['xlated', 'x86', 'trace'] as const;

/** --debug LIST: hooks into the unicorn engine's pipeline that print to stderr. */
async function debugHooks(value: string | boolean | (string | boolean)[] | undefined): Promise<UnicornEngineHooks> {
  if (typeof value !== 'string') return {};
  const views = value.split(',').map((v) => v.trim());
  const bad = views.find((v) => !(DEBUG_VIEWS as readonly string[]).includes(v));
  if (bad !== undefined) throw new UsageError(`--debug: unknown view '${bad}' (known: ${DEBUG_VIEWS.join(', ')})`);
  const show = (v: (typeof DEBUG_VIEWS)[number]): boolean => views.includes(v);
  const listing = show('x86') ? { ...(await import('./listing.js')), ...(await import('./dump.js')) } : null;
  const { printProgram } = await import('../isa/print.js');
  const hex = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16)}`;
  return {
    compiled: (engine, compiled, original) => {
      if (show('xlated')) process.stderr.write(`; xlated\n${printProgram(compiled.xlated, { dialect: 'kernel-xlated' })}\n`);
      if (listing) process.stderr.write(`; x86\n${listing.renderListing(listing.pipelineListing(engine, compiled, original))}`);
    },
    ...(show('trace')
      ? { trace: (s: TraceStep) => process.stderr.write(`; insn ${s.pc}: ${s.changed.map(([r, v]) => `r${r}=${hex(v)}`).join(' ')}\n`) }
      : {}),
  };
}

/** The suite passes its plugin options as one argument ("--engine interp"): split those. */
function splitOptions(argv: readonly string[]): string[] {
  return argv.flatMap((a) => (a.startsWith('--') && /\s/.test(a) ? a.trim().split(/\s+/) : [a]));
}

export const conformancePlugin: Command = {
  name: 'conformance-plugin',
  help: `Usage: bpfjit conformance-plugin [MEMHEX] [--engine E]

Speaks the bpf_conformance runner's plugin protocol: reads the program as hex bytes separated by spaces
from stdin, takes the input memory as hex bytes in the first argument (optional), runs the program with
r1 = pointer to a copy of the memory and r2 = its length, prints r0 in hex and exits 0; on an error it
prints the message and exits 1.
Use with the suite: bpf_conformance_runner --test_file_directory tests --plugin_path PATH/bpfjit-plugin
where bpfjit-plugin runs 'bpfjit conformance-plugin "$@"'.

  ${ENGINE_HELP}
  --elf           the program on stdin is an ELF object (hex bytes): function 'main', no relocations
  --debug LIST    unicorn engine: show stages of the pipeline on stderr (the runner reads stdout):
                  xlated (the program after the front end's verifier rewrites, with the r2 = length
                  instruction the plugin prepends), x86 (each BPF instruction with its machine code),
                  trace (registers changed by each executed instruction); comma-separated`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(splitOptions(argv), {
      engine: { type: 'string' },
      elf: { type: 'boolean' },
      debug: { type: 'string' },
    });
    if (positionals.length > 1) throw new UsageError('expected at most one argument (the memory as hex bytes)');
    const engine = await pickEngine(values.engine, 'conformance-plugin', await debugHooks(values.debug));
    if (engine === null) return Exit.NOT_PERMITTED;
    let stdin: string;
    try {
      stdin = readFileSync(0, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read the program from stdin: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const { runPlugin } = await import('../conformance/plugin.js');
    const out = await runPlugin(engine, stdin, positionals[0] ?? '', values.elf === true);
    process.stdout.write(`${out.stdout}\n`);
    return out.exitCode;
  },
};
