// `bpfjit demo` (what `npm start` runs): the bundled arena linked list (examples/arena_list.bpf.c) taken
// through the whole tool: the object's contents, the machine code next to the BPF, a run on the emulated
// CPU, and the list the program built walked from TypeScript through the user pointers it stored.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine, compileFor } from '../emu/index.js';
import { findProgram, loadObject, parseElf, programEnv } from '../loader/index.js';
import { renderListing } from './listing.js';
import { pipelineListing } from './dump.js';
import { Exit, parseCommandArgs, type Command } from './command.js';
import { readInput } from './io.js';

const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), '../../examples/arena_list.bpf.o');

function heading(text: string): void {
  console.log(`\n=== ${text}`);
}

export const demo: Command = {
  name: 'demo',
  help: `Usage: bpfjit demo [--full]

Takes the bundled example examples/arena_list.bpf.o (an arena linked list, C source beside it) through
bpfjit: the programs and maps of the object, the x86-64 the JIT emits for 'build_list' next to each BPF
instruction (the first lines; --full for all), a run on the emulated CPU, and the list walked from
TypeScript through the user-space pointers the program stored in the arena.`,
  run(argv) {
    const { values } = parseCommandArgs(argv, { full: { type: 'boolean' } });
    const bytes = readInput(EXAMPLE);
    const obj = loadObject(bytes);
    heading(`examples/arena_list.bpf.o: ${obj.programs.length} programs, ${obj.maps.length} maps`);
    for (const p of obj.programs) console.log(`  ${p.name}  SEC("${p.section}")  ${p.insns.slots} insns`);
    for (const m of obj.maps) console.log(`  map ${m.index}: ${m.name} (${m.kind}, max_entries ${m.maxEntries})`);

    const program = findProgram(obj, 'build_list');
    const { env, maps } = programEnv(obj, program);
    const engine = new Engine();
    try {
      const compiled = compileFor(engine, program.insns, { env, maps });
      const arena = compiled.arena!;
      try {
        heading('build_list: BPF next to the x86-64 the JIT emitted (bpfjit dump)');
        const listing = renderListing(pipelineListing(engine, compiled, program.insns, program)).split('\n');
        const shown = values.full === true ? listing : listing.slice(0, 40);
        console.log(shown.join('\n'));
        if (shown.length < listing.length) console.log(`  … ${listing.length - shown.length} more lines: bpfjit dump examples/arena_list.bpf.o --prog build_list`);

        heading('build_list on the emulated CPU (bpfjit run)');
        const r = engine.run({ ctx: new Uint8Array(0) });
        if (r.fault) {
          console.error(`fault: ${r.fault.message}`);
          return Exit.BAD_INPUT;
        }
        console.log(`  retval ${r.retval}; arena pages allocated: ${arena.pages().length}`);

        heading('the list, walked from TypeScript through the user pointers BPF stored');
        const elf = parseElf(bytes);
        const section = elf.sections.findIndex((s) => s.name === '.addr_space.1');
        const head = elf.symbols.find((s) => s.name === 'head' && s.shndx === section)!;
        const sum = elf.symbols.find((s) => s.name === 'arena_sum' && s.shndx === section)!;
        const base = arena.userVmStart + BigInt(obj.arena!.globalsOffset);
        const values_: bigint[] = [];
        for (let p = arena.readU64(base + BigInt(head.value)); p !== 0n && values_.length < 64; p = arena.readU64(p)) {
          values_.push(arena.readU64(p + 8n));
        }
        console.log(`  head → ${values_.join(' → ')}`);
        const total = values_.reduce((a, b) => a + b, 0n);
        console.log(`  sum from TypeScript ${total}, arena_sum computed by BPF ${arena.readU64(base + BigInt(sum.value))}`);
      } finally {
        arena.dispose();
      }
    } finally {
      engine.close();
    }
    return Exit.OK;
  },
};
