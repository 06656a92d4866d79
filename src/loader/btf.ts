// src/loader — BTF (.BTF) and BTF.ext (.BTF.ext) as far as loading needs them: the type table for
// BTF-defined maps and function signatures, decl_tag("arg:arena"), func_info and line_info.
// Offsets in errors are file offsets (`base` = where the section starts in the object).
import { BpfError } from '../errors.js';

export const BTF_MAGIC = 0xeb9f;

export const BtfKind = {
  UNKN: 0, INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9,
  CONST: 10, RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17,
  TYPE_TAG: 18, ENUM64: 19,
} as const;

const KIND_NAMES = Object.fromEntries(Object.entries(BtfKind).map(([k, v]) => [v, k])) as Record<number, string>;
export const btfKindName = (kind: number): string => KIND_NAMES[kind] ?? `kind ${kind}`;

/** One member/param/enumerator/datasec entry, whatever the kind (unused fields are 0). */
export interface BtfMember {
  readonly name: string;
  /** Member/param/var type id. */
  readonly type: number;
  /** STRUCT/UNION: bit offset; DATASEC: byte offset. */
  readonly offset: number;
  /** DATASEC: size in bytes. */
  readonly size: number;
  /** ENUM/ENUM64 value. */
  readonly value: bigint;
}

export interface BtfType {
  readonly id: number;
  /** Byte offset of the type record inside the .BTF section. */
  readonly at: number;
  readonly kind: number;
  readonly name: string;
  /** INT/STRUCT/UNION/ENUM/DATASEC/FLOAT: size; PTR/TYPEDEF/modifiers/FUNC/VAR/DECL_TAG: referenced type. */
  readonly sizeOrType: number;
  /** vlen: number of members; FUNC: linkage (0 static, 1 global, 2 extern). */
  readonly vlen: number;
  readonly members: readonly BtfMember[];
  /** ARRAY only. */
  readonly array?: { readonly elemType: number; readonly indexType: number; readonly nelems: number };
  /** DECL_TAG: component index (-1 = the declaration itself); VAR: linkage. */
  readonly extra: number;
}

export interface Btf {
  /** types[id]; types[0] is void. */
  readonly types: readonly BtfType[];
  readonly strings: Uint8Array;
  /** File offset of the .BTF section (for messages). */
  readonly base: number;
}

const fail = (byteOffset: number, message: string): never => {
  throw new BpfError({ byteOffset, message: `BTF: ${message}` });
};

function btfString(strings: Uint8Array, off: number, at: number): string {
  if (off >= strings.length && !(off === 0 && strings.length === 0)) fail(at, `string offset ${off} is outside the string section (${strings.length} bytes)`);
  if (strings.length === 0) return '';
  const end = strings.indexOf(0, off);
  if (end < 0) fail(at, `string at offset ${off} is not NUL-terminated`);
  return new TextDecoder().decode(strings.subarray(off, end));
}

/** Parses a .BTF section. `base` is its file offset. */
export function parseBtf(data: Uint8Array, base: number): Btf {
  if (data.length < 24) fail(base, `truncated header: expected at least 24 bytes, section has ${data.length}`);
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  const magic = view.getUint16(0, true);
  if (magic !== BTF_MAGIC) fail(base, `bad magic 0x${magic.toString(16)}: expected 0xeb9f (little-endian BTF)`);
  if (data[2] !== 1) fail(base + 2, `unsupported version ${data[2]}: expected 1`);
  const hdrLen = view.getUint32(4, true);
  if (hdrLen < 24 || hdrLen > data.length) fail(base + 4, `header length ${hdrLen} is outside 24..${data.length}`);
  const [typeOff, typeLen, strOff, strLen] = [8, 12, 16, 20].map((o) => view.getUint32(o, true)) as [number, number, number, number];
  if (hdrLen + typeOff + typeLen > data.length) fail(base + 8, `type section (offset ${typeOff}, ${typeLen} bytes) extends past the section end`);
  if (hdrLen + strOff + strLen > data.length) fail(base + 16, `string section (offset ${strOff}, ${strLen} bytes) extends past the section end`);
  const strings = data.subarray(hdrLen + strOff, hdrLen + strOff + strLen);
  if (strLen > 0 && strings[strLen - 1] !== 0) fail(base + hdrLen + strOff + strLen - 1, 'string section does not end with NUL');

  const types: BtfType[] = [{ id: 0, at: 0, kind: BtfKind.UNKN, name: 'void', sizeOrType: 0, vlen: 0, members: [], extra: 0 }];
  let p = hdrLen + typeOff;
  const end = p + typeLen;
  const need = (n: number, what: string): void => {
    if (p + n > end) fail(base + p, `type ${types.length}: truncated ${what} (needs ${n} bytes, ${end - p} left)`);
  };
  const str = (off: number, at: number): string => btfString(strings, off, base + at);
  while (p < end) {
    need(12, 'type header');
    const at = p;
    const info = view.getUint32(p + 4, true);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const name = str(view.getUint32(p, true), p);
    const sizeOrType = view.getUint32(p + 8, true);
    p += 12;
    const members: BtfMember[] = [];
    let array: BtfType['array'];
    let extra = 0;
    const entries = (size: number, read: (q: number) => BtfMember): void => {
      need(vlen * size, `${btfKindName(kind)} entries`);
      for (let i = 0; i < vlen; i++) members.push(read(p + i * size));
      p += vlen * size;
    };
    const m = (name: string, type: number, offset = 0, size = 0, value = 0n): BtfMember => ({ name, type, offset, size, value });
    switch (kind) {
      case BtfKind.INT:
        need(4, 'INT encoding');
        p += 4;
        break;
      case BtfKind.ARRAY:
        need(12, 'ARRAY');
        array = { elemType: view.getUint32(p, true), indexType: view.getUint32(p + 4, true), nelems: view.getUint32(p + 8, true) };
        p += 12;
        break;
      case BtfKind.STRUCT:
      case BtfKind.UNION:
        entries(12, (q) => m(str(view.getUint32(q, true), q), view.getUint32(q + 4, true), view.getUint32(q + 8, true)));
        break;
      case BtfKind.ENUM:
        entries(8, (q) => m(str(view.getUint32(q, true), q), 0, 0, 0, BigInt(info >>> 31 ? view.getInt32(q + 4, true) : view.getUint32(q + 4, true))));
        break;
      case BtfKind.ENUM64:
        entries(12, (q) => m(str(view.getUint32(q, true), q), 0, 0, 0, (BigInt(view.getUint32(q + 8, true)) << 32n) | BigInt(view.getUint32(q + 4, true))));
        break;
      case BtfKind.FUNC_PROTO:
        entries(8, (q) => m(str(view.getUint32(q, true), q), view.getUint32(q + 4, true)));
        break;
      case BtfKind.DATASEC:
        entries(12, (q) => m('', view.getUint32(q, true), view.getUint32(q + 4, true), view.getUint32(q + 8, true)));
        break;
      case BtfKind.VAR:
      case BtfKind.DECL_TAG:
        need(4, btfKindName(kind));
        extra = view.getInt32(p, true);
        p += 4;
        break;
      case BtfKind.PTR: case BtfKind.FWD: case BtfKind.TYPEDEF: case BtfKind.VOLATILE: case BtfKind.CONST:
      case BtfKind.RESTRICT: case BtfKind.FUNC: case BtfKind.FLOAT: case BtfKind.TYPE_TAG:
        break;
      default:
        fail(base + at + 4, `type ${types.length}: unknown kind ${kind}`);
    }
    types.push({ id: types.length, at, kind, name, sizeOrType, vlen, members, ...(array ? { array } : {}), extra });
  }
  const btf: Btf = { types, strings, base };
  // Every referenced type id must exist, so later walks never index outside the table.
  for (const t of types) {
    const refs: number[] = [];
    if (REFERS.has(t.kind)) refs.push(t.sizeOrType);
    if (t.array) refs.push(t.array.elemType, t.array.indexType);
    if (t.kind !== BtfKind.ENUM && t.kind !== BtfKind.ENUM64) for (const mm of t.members) refs.push(mm.type);
    for (const r of refs) if (r >= types.length) fail(base + hdrLen + typeOff, `type ${t.id} (${btfKindName(t.kind)} '${t.name}') refers to type ${r}, which does not exist (${types.length - 1} types)`);
  }
  return btf;
}

const REFERS = new Set<number>([BtfKind.PTR, BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT, BtfKind.FUNC, BtfKind.VAR, BtfKind.DECL_TAG, BtfKind.TYPE_TAG, BtfKind.FUNC_PROTO]);
const MODIFIERS = new Set<number>([BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT, BtfKind.TYPE_TAG]);

export function btfType(btf: Btf, id: number): BtfType {
  const t = btf.types[id];
  if (t === undefined) fail(btf.base, `type ${id} does not exist`);
  return t!;
}

/** Follows typedefs and const/volatile/restrict/type_tag (bounded: a cycle is an error). */
export function skipModifiers(btf: Btf, id: number): BtfType {
  let t = btfType(btf, id);
  for (let n = 0; MODIFIERS.has(t.kind); n++) {
    if (n > 64) fail(btf.base, `type ${id}: modifier chain is too long or cyclic`);
    t = btfType(btf, t.sizeOrType);
  }
  return t;
}

/** Size in bytes of a type (btf__resolve_size). */
export function resolveSize(btf: Btf, id: number, depth = 0): number {
  if (depth > 64) fail(btf.base, `type ${id}: type chain is too long or cyclic`);
  const t = skipModifiers(btf, id);
  switch (t.kind) {
    case BtfKind.INT: case BtfKind.STRUCT: case BtfKind.UNION: case BtfKind.ENUM: case BtfKind.ENUM64:
    case BtfKind.DATASEC: case BtfKind.FLOAT:
      return t.sizeOrType;
    case BtfKind.PTR:
      return 8;
    case BtfKind.ARRAY:
      return t.array!.nelems * resolveSize(btf, t.array!.elemType, depth + 1);
    case BtfKind.VAR:
      return resolveSize(btf, t.sizeOrType, depth + 1);
    default:
      return fail(btf.base, `type ${t.id} (${btfKindName(t.kind)} '${t.name}') has no size`);
  }
}

export function findByName(btf: Btf, kind: number, name: string): BtfType | undefined {
  return btf.types.find((t) => t.kind === kind && t.name === name);
}

/** decl_tag("arg:arena") → argument indices per FUNC type id. */
export function arenaArgs(btf: Btf): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const t of btf.types) {
    if (t.kind !== BtfKind.DECL_TAG || t.name !== 'arg:arena' || t.extra < 0) continue;
    if (btfType(btf, t.sizeOrType).kind !== BtfKind.FUNC) continue;
    out.set(t.sizeOrType, [...(out.get(t.sizeOrType) ?? []), t.extra].sort((a, b) => a - b));
  }
  return out;
}

// ---- .BTF.ext ----

export interface FuncInfoRec {
  /** Instruction (slot) index inside its ELF section. */
  readonly insn: number;
  readonly typeId: number;
}

export interface LineInfoRec {
  readonly insn: number;
  readonly file: string;
  /** The source line's text as stored in BTF. */
  readonly text: string;
  readonly line: number;
  readonly col: number;
}

export interface BtfExt {
  /** By ELF section name. */
  readonly funcInfo: ReadonlyMap<string, readonly FuncInfoRec[]>;
  readonly lineInfo: ReadonlyMap<string, readonly LineInfoRec[]>;
}

export function parseBtfExt(data: Uint8Array, base: number, btf: Btf): BtfExt {
  const extFail = (at: number, msg: string): never => fail(base + at, `.BTF.ext: ${msg}`);
  if (data.length < 24) extFail(0, `truncated header: expected at least 24 bytes, section has ${data.length}`);
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  if (view.getUint16(0, true) !== BTF_MAGIC) extFail(0, `bad magic 0x${view.getUint16(0, true).toString(16)}: expected 0xeb9f`);
  if (data[2] !== 1) extFail(2, `unsupported version ${data[2]}: expected 1`);
  const hdrLen = view.getUint32(4, true);
  if (hdrLen < 24 || hdrLen > data.length) extFail(4, `header length ${hdrLen} is outside 24..${data.length}`);

  const blocks = <T>(offField: number, recMin: number, read: (q: number, sec: string) => T): Map<string, T[]> => {
    const out = new Map<string, T[]>();
    const off = view.getUint32(offField, true);
    const len = view.getUint32(offField + 4, true);
    if (len === 0) return out;
    let p = hdrLen + off;
    const end = p + len;
    if (end > data.length) extFail(offField, `block (offset ${off}, ${len} bytes) extends past the section end`);
    if (len < 4) extFail(p, 'block too short for its record size');
    const recSize = view.getUint32(p, true);
    if (recSize < recMin || recSize % 4 !== 0) extFail(p, `record size ${recSize} is invalid (at least ${recMin}, a multiple of 4)`);
    p += 4;
    while (p < end) {
      if (p + 8 > end) extFail(p, 'truncated section header (name, count)');
      const sec = btfString(btf.strings, view.getUint32(p, true), base + p);
      const n = view.getUint32(p + 4, true);
      p += 8;
      if (n === 0 || p + n * recSize > end) extFail(p - 4, `section '${sec}': ${n} records of ${recSize} bytes do not fit`);
      const list = out.get(sec) ?? [];
      for (let i = 0; i < n; i++, p += recSize) list.push(read(p, sec));
      out.set(sec, list);
    }
    return out;
  };
  const insnOf = (q: number): number => {
    const off = view.getUint32(q, true);
    if (off % 8 !== 0) extFail(q, `instruction offset ${off} is not a multiple of 8`);
    return off / 8;
  };
  const funcInfo = blocks(8, 8, (q) => {
    const typeId = view.getUint32(q + 4, true);
    if (btfType(btf, typeId).kind !== BtfKind.FUNC) extFail(q + 4, `func_info type ${typeId} is not a FUNC`);
    return { insn: insnOf(q), typeId };
  });
  const lineInfo = blocks(16, 16, (q) => {
    const lc = view.getUint32(q + 12, true);
    return {
      insn: insnOf(q),
      file: btfString(btf.strings, view.getUint32(q + 4, true), base + q + 4),
      text: btfString(btf.strings, view.getUint32(q + 8, true), base + q + 8),
      line: lc >>> 10,
      col: lc & 0x3ff,
    };
  });
  return { funcInfo, lineInfo };
}
