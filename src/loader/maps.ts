// src/loader — map specifications: BTF-defined maps in `.maps` (libbpf's parse_btf_map_def) and the
// global-data sections (.data*, .rodata*, .bss*) that libbpf turns into single-element array maps.
import { BpfError } from '../errors.js';
import { type Btf, BtfKind, btfKindName, btfType, resolveSize, skipModifiers } from './btf.js';
import { type ElfFile, type ElfSection, ShFlag, ShType } from './elf.js';

export const MapType = { HASH: 1, ARRAY: 2, PERCPU_HASH: 5, PERCPU_ARRAY: 6, LRU_HASH: 9, RINGBUF: 27, ARENA: 33 } as const;

const MAP_TYPE_NAMES: Record<number, string> = {
  0: 'unspec', 1: 'hash', 2: 'array', 3: 'prog_array', 4: 'perf_event_array', 5: 'percpu_hash', 6: 'percpu_array',
  7: 'stack_trace', 8: 'cgroup_array', 9: 'lru_hash', 10: 'lru_percpu_hash', 11: 'lpm_trie', 12: 'array_of_maps',
  13: 'hash_of_maps', 14: 'devmap', 15: 'sockmap', 16: 'cpumap', 17: 'xskmap', 18: 'sockhash', 19: 'cgroup_storage',
  20: 'reuseport_sockarray', 21: 'percpu_cgroup_storage', 22: 'queue', 23: 'stack', 24: 'sk_storage',
  25: 'devmap_hash', 26: 'struct_ops', 27: 'ringbuf', 28: 'inode_storage', 29: 'task_storage', 30: 'bloom_filter',
  31: 'user_ringbuf', 32: 'cgrp_storage', 33: 'arena',
};
export const mapTypeName = (type: number): string => MAP_TYPE_NAMES[type] ?? `type ${type}`;

/** map_flags bits the loader sets on global-data maps. */
export const MapFlag = { NO_PREALLOC: 1 << 0, RDONLY_PROG: 1 << 7, MMAPABLE: 1 << 10, SEGV_ON_FAULT: 1 << 17, NO_USER_CONV: 1 << 18 } as const;

/**
 * Everything needed to create a map (what bpf(BPF_MAP_CREATE) takes), plus its initial contents.
 * `index` is the placeholder number used in the program: ld_imm64 src 1 (map itself) and src 2
 * (address of element 0's value + the second slot's imm) carry `imm = index`. The arena, if any, is 0.
 */
export interface BpfMapSpec {
  readonly index: number;
  /** Variable name for `.maps` maps; the section name (".data", ".rodata", ".bss", …) for global data. */
  readonly name: string;
  /** BPF_MAP_TYPE_* */
  readonly type: number;
  /** The type's name as the kernel spells it after BPF_MAP_TYPE_, lower case: 'array', 'hash', 'arena', … (src/emu's MapKind for array/hash). */
  readonly kind: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  /** map_extra (arena: fixed user_vm_start, 0 = chosen at mmap time). */
  readonly mapExtra: bigint;
  readonly origin: 'btf' | 'data' | 'rodata' | 'bss';
  /** ELF section holding the definition or the data. */
  readonly section: string;
  /** Global-data maps: the initial value of element 0 (valueSize bytes; zeros for .bss). */
  readonly initialValue?: Uint8Array;
  /**
   * libbpf freezes the map (BPF_MAP_FREEZE) after writing `initialValue` — .rodata* — so the verifier
   * reads its contents as constants (and may remove code that depends on them).
   */
  readonly freeze: boolean;
}

/** A map before it gets its index; `offset` locates its definition in `.maps` (relocations name it by offset). */
export interface MapDraft extends Omit<BpfMapSpec, 'index'> {
  readonly sectionIndex: number;
  readonly offset: number;
}

const mapFail = (at: number, map: string, msg: string): never => {
  throw new BpfError({ byteOffset: at, message: `map '${map}': ${msg}` });
};

/** libbpf's get_map_field_int/long: `__uint(name, N)` is PTR → ARRAY[N]; `__ulong(name, N)` is an ENUM/ENUM64 with one value N. */
function fieldValue(btf: Btf, typeId: number, map: string, field: string): bigint {
  const t = skipModifiers(btf, typeId);
  if (t.kind === BtfKind.PTR) {
    const arr = btfType(btf, t.sizeOrType);
    if (arr.kind !== BtfKind.ARRAY) mapFail(btf.base, map, `field '${field}': expected PTR to ARRAY (__uint), got PTR to ${btfKindName(arr.kind)}`);
    return BigInt(arr.array!.nelems);
  }
  if (t.kind === BtfKind.ENUM || t.kind === BtfKind.ENUM64) {
    if (t.members.length !== 1) mapFail(btf.base, map, `field '${field}': an __ulong enum must have exactly 1 value, has ${t.members.length}`);
    return BigInt.asUintN(64, t.members[0]!.value);
  }
  return mapFail(btf.base, map, `field '${field}': expected PTR (__uint) or ENUM (__ulong), got ${btfKindName(t.kind)}`);
}

const small = (v: bigint, btf: Btf, map: string, field: string): number => {
  if (v > 0xffffffffn) mapFail(btf.base, map, `field '${field}': value ${v} does not fit in 32 bits`);
  return Number(v);
};

/** BTF-defined maps of the `.maps` section, in declaration order. */
export function btfMaps(elf: ElfFile, btf: Btf | null, mapsSec: ElfSection): MapDraft[] {
  if (btf === null) return mapFail(mapsSec.headerOffset, '.maps', 'the object has `.maps` but no .BTF section to describe them');
  const datasec = btf.types.find((t) => t.kind === BtfKind.DATASEC && t.name === '.maps');
  if (!datasec) return mapFail(btf.base, '.maps', 'BTF has no DATASEC for `.maps`');
  const out: MapDraft[] = [];
  for (const vi of datasec.members) {
    const v = btfType(btf, vi.type);
    if (v.kind !== BtfKind.VAR) mapFail(btf.base, '.maps', `DATASEC entry is ${btfKindName(v.kind)}, expected VAR`);
    const name = v.name;
    const def = skipModifiers(btf, v.sizeOrType);
    if (def.kind !== BtfKind.STRUCT) mapFail(btf.base, name, `definition must be a STRUCT, got ${btfKindName(def.kind)}`);
    let type = 0, maxEntries = 0, flags = 0, mapExtra = 0n;
    let keySize: number | undefined, valueSize: number | undefined;
    for (const m of def.members) {
      const f = m.name;
      switch (f) {
        case 'type': type = small(fieldValue(btf, m.type, name, f), btf, name, f); break;
        case 'max_entries': maxEntries = small(fieldValue(btf, m.type, name, f), btf, name, f); break;
        case 'map_flags': flags = small(fieldValue(btf, m.type, name, f), btf, name, f); break;
        case 'map_extra': mapExtra = fieldValue(btf, m.type, name, f); break;
        case 'numa_node': case 'pinning': fieldValue(btf, m.type, name, f); break;
        case 'key_size': case 'value_size': {
          const sz = small(fieldValue(btf, m.type, name, f), btf, name, f);
          const prev = f === 'key_size' ? keySize : valueSize;
          if (prev !== undefined && prev !== sz) mapFail(btf.base, name, `${f} ${sz} conflicts with the ${f.slice(0, -5)} type's size ${prev}`);
          if (f === 'key_size') keySize = sz; else valueSize = sz;
          break;
        }
        case 'key': case 'value': {
          const ptr = skipModifiers(btf, m.type);
          if (ptr.kind !== BtfKind.PTR) mapFail(btf.base, name, `field '${f}': expected PTR (__type), got ${btfKindName(ptr.kind)}`);
          const sz = resolveSize(btf, ptr.sizeOrType);
          const prev = f === 'key' ? keySize : valueSize;
          if (prev !== undefined && prev !== sz) mapFail(btf.base, name, `${f} type size ${sz} conflicts with ${f}_size ${prev}`);
          if (f === 'key') keySize = sz; else valueSize = sz;
          break;
        }
        default:
          mapFail(btf.base, name, `unknown or unsupported field '${f}' (map-in-map 'values' is not supported)`);
      }
    }
    // The ELF symbol gives the definition's offset (relocations name maps by it); BTF's offset is the fallback.
    const sym = elf.symbols.find((s) => s.shndx === mapsSec.index && s.name === name);
    out.push({
      name, type, kind: mapTypeName(type), keySize: keySize ?? 0, valueSize: valueSize ?? 0, maxEntries, flags, mapExtra,
      origin: 'btf', section: '.maps', sectionIndex: mapsSec.index, offset: sym ? sym.value : vi.offset, freeze: false,
    });
  }
  return out;
}

/** Which global-data kind a section is (libbpf's SEC_DATA / SEC_RODATA / SEC_BSS rules), or null. */
export function dataKind(sec: ElfSection): 'data' | 'rodata' | 'bss' | null {
  const is = (pfx: string): boolean => sec.name === pfx || sec.name.startsWith(`${pfx}.`);
  if (sec.type === ShType.PROGBITS && sec.flags & ShFlag.ALLOC) {
    if (sec.flags & ShFlag.WRITE && is('.data')) return 'data';
    if (!(sec.flags & ShFlag.WRITE) && is('.rodata')) return 'rodata';
  }
  if (sec.type === ShType.NOBITS && is('.bss')) return 'bss';
  return null;
}

/** Largest global-data section accepted (a .bss this big is almost certainly a corrupted size). */
const MAX_DATA_SIZE = 1 << 28;

/**
 * libbpf's map_is_mmapable: a global-data map is BPF_F_MMAPABLE only when its section's BTF DATASEC has
 * a non-static variable (user space has something to reach through the skeleton); .rodata.str1.1 and
 * function-local statics (bpf_printk formats) are not.
 */
function mmapable(btf: Btf | null, section: string): boolean {
  const ds = btf?.types.find((t) => t.kind === BtfKind.DATASEC && t.name === section);
  return !!ds && ds.members.some((m) => {
    const v = btf!.types[m.type]!;
    return v.kind === BtfKind.VAR && v.extra !== 0; // VAR linkage 0 = static
  });
}

/** Global-data maps in section order: one element of the section's size; .rodata read-only for the program. */
export function dataMaps(elf: ElfFile, btf: Btf | null): MapDraft[] {
  const out: MapDraft[] = [];
  for (const sec of elf.sections) {
    const kind = dataKind(sec);
    if (kind === null || sec.size === 0) continue;
    if (sec.size > MAX_DATA_SIZE) throw new BpfError({ byteOffset: sec.headerOffset + 32, message: `global data section '${sec.name}' has ${sec.size} bytes, more than the ${MAX_DATA_SIZE} a map value can hold here` });
    const initialValue = new Uint8Array(sec.size);
    initialValue.set(sec.data);
    out.push({
      name: sec.name, type: MapType.ARRAY, kind: 'array', keySize: 4, valueSize: sec.size, maxEntries: 1,
      flags: (mmapable(btf, sec.name) ? MapFlag.MMAPABLE : 0) | (kind === 'rodata' ? MapFlag.RDONLY_PROG : 0), mapExtra: 0n, origin: kind,
      section: sec.name, sectionIndex: sec.index, offset: 0, initialValue, freeze: kind === 'rodata',
    });
  }
  return out;
}
