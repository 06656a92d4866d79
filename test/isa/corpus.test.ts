// Every corpus program: the original .bin is valid standard BPF and the kernel's xlated_resolved is valid
// kernel-xlated BPF; both survive decode → print → parse → encode byte for byte; and the printer
// reproduces the kernel's own verifier-log line for every instruction the kernel printed.
import { describe, expect, it } from 'vitest';
import { decode, encode, formatInsnLine, parse, printProgram, validate, type Insn } from '../../src/isa/index.js';
import { allPrograms, hexToBytes } from '../helpers/corpus.js';

const { source, programs } = allPrograms();
if (source === 'fixtures') console.warn(`isa corpus tests: ../shared not found, using the ${programs.length} fixture programs only`);

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe(`corpus programs (${source}: ${programs.length})`, () => {
  it('has programs', () => expect(programs.length).toBeGreaterThan(0));

  it('original bytecode: valid in the standard dialect and round-trips through text', () => {
    for (const p of programs) {
      const bin = p.bin();
      const prog = decode(bin);
      expect(validate(prog, 'standard'), p.id).toEqual([]);
      expect(hex(encode(parse(printProgram(prog)))), p.id).toBe(hex(bin));
    }
  });

  it('xlated_resolved: valid in the kernel-xlated dialect and round-trips through text', () => {
    for (const p of programs) {
      const bytes = hexToBytes(p.kernel().xlated_resolved);
      const prog = decode(bytes);
      expect(validate(prog, 'kernel-xlated'), p.id).toEqual([]);
      expect(hex(encode(parse(printProgram(prog, { dialect: 'kernel-xlated' })))), p.id).toBe(hex(bytes));
    }
  });

  it('xlated_resolved uses kernel-internal forms the standard dialect rejects', () => {
    // At least the arena programs carry PROBE_MEM32 accesses: a check that the dialects differ at all.
    const rejected = programs.filter((p) => validate(decode(hexToBytes(p.kernel().xlated_resolved)), 'standard').length > 0);
    expect(rejected.length).toBeGreaterThan(0);
  });

  it("prints every instruction as the kernel's verifier log did", () => {
    let lines = 0;
    const mismatches: string[] = [];
    for (const p of programs) {
      const prog = decode(p.bin());
      const byPc = new Map<number, Insn>(prog.insns.map((i) => [i.pc, i]));
      const side = p.sidecar();
      const k = p.kernel();
      const fixedArena = side.arena !== null && side.arena.map_extra !== 0;
      const opts = {
        callName: (i: Insn) => (i.src === 2 ? side.kfuncs[`0x${(i.imm >>> 0).toString(16)}`] : undefined),
        // The kernel printed ld_imm64 after resolving it: the arena's user address (+ offset) for a
        // map value; known here only when the address was fixed (map_extra), else compared by shape.
        ldImm64Value: (i: Insn) => (i.src === 2 && fixedArena && k.user_vm_start ? BigInt(k.user_vm_start) + BigInt(i.imm2! >>> 0) : undefined),
      };
      for (const line of p.kernelText().split('\n')) {
        if (line === '') continue;
        lines++;
        const pc = Number(/^(\d+):/.exec(line)![1]);
        const insn = byPc.get(pc);
        if (!insn) {
          mismatches.push(`${p.id}: no instruction starts at ${pc}: ${line}`);
          continue;
        }
        const got = formatInsnLine(insn, opts);
        let ok: boolean;
        if (insn.code === 0x85 && insn.src === 2) {
          // kfunc: the .bin holds the sidecar key, the kernel saw (and printed) the BTF id.
          ok = got.replace(/#\d+$/, '') === line.replace(/#\d+$/, '');
        } else if (insn.code === 0x18 && (insn.src === 1 || (insn.src === 2 && !fixedArena))) {
          // a map's kernel address (MAP_FD) or a kernel-chosen arena address: only the form can match
          ok = new RegExp(`^${pc}: \\(18\\) r${insn.dst} = 0x[0-9a-f]+$`).test(line);
        } else {
          ok = got === line;
        }
        if (!ok) mismatches.push(`${p.id}: printed '${got}', kernel '${line}'`);
      }
    }
    expect(mismatches.slice(0, 20)).toEqual([]);
    expect(lines).toBeGreaterThan(programs.length * 10);
  });
});
