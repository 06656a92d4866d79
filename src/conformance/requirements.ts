// Which conformance group and CPU version a test needs, derived from its instructions exactly as the
// suite does (bpf_conformance src/bpf_conformance.cc + the instructions_from_spec table of
// src/opcode_names.h): each instruction slot is looked up by opcode — plus src_reg for 0x18/0x85, imm for
// 0xc3/0xd4/0xdb/0xdc and offset for the div/mod/mov opcodes — and the test needs the highest CPU version
// and the union of the groups found; instructions missing from the table (MEMSX, load-acquire,
// addr_space_cast, may_goto, …) add nothing. The second slot of lddw is skipped.

export const GROUPS = ['base32', 'base64', 'atomic32', 'atomic64', 'divmul32', 'divmul64', 'packet', 'callx'] as const;
export type Group = (typeof GROUPS)[number];
/** The suite's default_groups: everything but callx and packet. */
export const DEFAULT_GROUPS: readonly Group[] = ['base32', 'base64', 'atomic32', 'atomic64', 'divmul32', 'divmul64'];
export const CPU_VERSIONS = ['v1', 'v2', 'v3', 'v4'] as const;
export type CpuVersion = (typeof CPU_VERSIONS)[number];

interface SpecEntry {
  readonly cpu: number;
  readonly group: Group;
  readonly opcode: number;
  readonly src: number;
  readonly imm: number;
  readonly off: number;
}

const needsSrc = (op: number): boolean => op === 0x18 || op === 0x85;
const needsImm = (op: number): boolean => op === 0xc3 || op === 0xd4 || op === 0xdb || op === 0xdc;
const needsOffset = (op: number): boolean => [0x34, 0x37, 0x3c, 0x3f, 0x94, 0x97, 0x9c, 0x9f, 0xbc, 0xbf].includes(op);

// One line per opcode: "cpu group opcode[:field=value,...]" (field s = src, i = imm, o = offset; several
// values separated by '/' give one entry each). Transcribed from the suite's table, quirks kept
// (e.g. 0x1f, 0x6d and 0x87 are listed under base32).
const TABLE = `
1 base64 00|1 base32 04|1 base32 05|4 base32 06|1 base64 07|1 base32 0c|1 base64 0f|1 base32 14|1 base64 15
3 base32 16|1 base64 17|1 base64 18:s=0/1/2/3/4/5/6|1 base32 1c|1 base64 1d|3 base32 1e|1 base32 1f|1 packet 20
1 divmul32 24|1 base64 25|3 base32 26|1 divmul64 27|1 packet 28|1 divmul32 2c|1 base64 2d|3 base32 2e
1 divmul64 2f|1 packet 30|1 divmul32 34:o=0|4 divmul32 34:o=1|1 base64 35|3 base32 36|1 divmul64 37:o=0
4 divmul64 37:o=1|1 divmul32 3c:o=0|4 divmul32 3c:o=1|1 base64 3d|3 base32 3e|1 divmul64 3f:o=0|4 divmul64 3f:o=1
1 packet 40|1 base32 44|1 base64 45|3 base32 46|1 base64 47|1 packet 48|1 base32 4c|1 base64 4d|3 base32 4e
1 base64 4f|1 packet 50|1 base32 54|1 base64 55|3 base32 56|1 base64 57|1 base32 5c|1 base64 5d|3 base32 5e
1 base64 5f|1 base32 61|1 base32 62|1 base32 63|1 base32 64|1 base64 65|3 base32 66|1 base64 67|1 base32 69
1 base32 6a|1 base32 6b|1 base32 6c|1 base32 6d|3 base32 6e|1 base64 6f|1 base32 71|1 base32 72|1 base32 73
1 base32 74|1 base64 75|3 base32 76|1 base64 77|1 base64 79|1 base64 7a|1 base64 7b|1 base32 7c|1 base64 7d
3 base32 7e|1 base64 7f|1 base32 84|1 base32 85:s=0|3 base32 85:s=1/2|1 base32 87|1 callx 8d
1 divmul32 94:o=0|4 divmul32 94:o=1|1 base32 95|1 divmul64 97:o=0|4 divmul64 97:o=1|1 divmul32 9c:o=0
4 divmul32 9c:o=1|1 divmul64 9f:o=0|4 divmul64 9f:o=1|1 base32 a4|2 base64 a5|3 base32 a6|1 base64 a7
1 base32 ac|2 base64 ad|3 base32 ae|1 base64 af|1 base32 b4|2 base64 b5|3 base32 b6|1 base64 b7
1 base32 bc:o=0|4 base32 bc:o=8/16|2 base64 bd|3 base32 be|1 base64 bf:o=0|4 base64 bf:o=8/16/32
3 atomic32 c3:i=0x00/0x01/0x40/0x41/0x50/0x51/0xa0/0xa1/0xe1/0xf1|1 base32 c4|2 base64 c5|3 base32 c6
1 base64 c7|1 base32 cc|2 base64 cd|3 base32 ce|1 base64 cf|1 base32 d4:i=16/32|1 base64 d4:i=64|2 base64 d5
3 base32 d6|4 base32 d7:i=16/32|4 base64 d7:i=64|3 atomic64 db:i=0x00/0x01/0x40/0x41/0x50/0x51/0xa0/0xa1/0xe1/0xf1
1 base32 dc:i=16/32|1 base64 dc:i=64|2 base64 dd|3 base32 de`;

function buildTable(): SpecEntry[] {
  const out: SpecEntry[] = [];
  for (const item of TABLE.split(/[|\n]/).map((s) => s.trim()).filter(Boolean)) {
    const [cpu, group, spec] = item.split(' ') as [string, Group, string];
    const [op, field] = spec.split(':') as [string, string | undefined];
    const values = field ? field.slice(2).split('/').map(Number) : [0];
    for (const v of values) {
      out.push({
        cpu: Number(cpu),
        group,
        opcode: parseInt(op, 16),
        src: field?.startsWith('s=') ? v : 0,
        imm: field?.startsWith('i=') ? v : 0,
        off: field?.startsWith('o=') ? v : 0,
      });
    }
  }
  // The suite's std::set is ordered by (opcode, src, offset, imm); find_if takes the first match.
  return out.sort((a, b) => a.opcode - b.opcode || a.src - b.src || a.off - b.off || a.imm - b.imm);
}

let table: SpecEntry[] | undefined;

export interface Requirements {
  readonly cpu: CpuVersion;
  readonly groups: readonly Group[];
}

/** The CPU version and groups a program (raw bytecode) needs. */
export function requirements(bytecode: Uint8Array): Requirements {
  table ??= buildTable();
  let cpu = 1;
  const groups = new Set<Group>();
  const view = new DataView(bytecode.buffer, bytecode.byteOffset, bytecode.length - (bytecode.length % 8));
  for (let i = 0; i < view.byteLength / 8; i++) {
    const opcode = view.getUint8(i * 8);
    const src = view.getUint8(i * 8 + 1) >> 4;
    const off = view.getInt16(i * 8 + 2, true);
    const imm = view.getInt32(i * 8 + 4, true);
    const e = table.find(
      (t) =>
        t.opcode === opcode &&
        (!needsSrc(opcode) || t.src === src) &&
        (!needsImm(opcode) || t.imm === imm) &&
        (!needsOffset(opcode) || t.off === off),
    );
    if (e) {
      cpu = Math.max(cpu, e.cpu);
      groups.add(e.group);
    }
    if (opcode === 0x18) i++; // lddw takes two slots
  }
  return { cpu: CPU_VERSIONS[cpu - 1]!, groups: GROUPS.filter((g) => groups.has(g)) };
}
