// src/loader — the object's BTF made acceptable to BPF_BTF_LOAD, as libbpf does before loading
// (btf_fixup_datasec and the .ksyms extern handling): clang leaves DATASEC sizes and variable offsets
// 0 for the loader to fill from the ELF symbols, and extern kfunc declarations (FUNC linkage extern with
// unnamed parameters, listed in DATASEC .ksyms) are not valid kernel BTF: they become static FUNCs and
// the .ksyms entries point at a stand-in VAR. The kernel needs this BTF for func_info
// (global functions and callbacks such as bpf_loop's).
import { BpfError } from '../errors.js';
import { BtfKind, parseBtf, resolveSize } from './btf.js';
import { parseElf } from './elf.js';

const FUNC_STATIC = 0;
const FUNC_EXTERN = 2;

/** A patched copy of the object's .BTF section, or null when the object has none. */
export function kernelBtf(object: Uint8Array): Uint8Array | null {
  const elf = parseElf(object);
  const sec = elf.sections.find((s) => s.name === '.BTF');
  if (!sec) return null;
  const btf = parseBtf(sec.data, sec.offset);
  // A copy (Buffer#slice would be a view into the whole file) and a view of exactly that copy.
  const out = new Uint8Array(sec.data);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  // A stand-in VAR for .ksyms entries (libbpf adds a dummy int var; reusing an existing VAR keeps the type table as is).
  const vars = btf.types.filter((t) => t.kind === BtfKind.VAR);
  for (const t of btf.types) {
    if (t.kind === BtfKind.FUNC && t.vlen === FUNC_EXTERN) {
      v.setUint32(t.at + 4, (v.getUint32(t.at + 4, true) & ~0xffff) | FUNC_STATIC, true);
      // The kernel wants every parameter named; extern declarations have none: borrow the function's name.
      const proto = btf.types[t.sizeOrType]!;
      if (proto.kind === BtfKind.FUNC_PROTO) {
        proto.members.forEach((m, i) => {
          if (m.name === '' && m.type !== 0) v.setUint32(proto.at + 12 + i * 8, v.getUint32(t.at, true), true);
        });
      }
    }
    if (t.kind !== BtfKind.DATASEC) continue;
    const entries = t.at + 12;
    const externs = t.members.some((m) => btf.types[m.type]!.kind !== BtfKind.VAR);
    if (t.name === '.ksyms' || externs) {
      const dummy = vars.find((x) => !t.members.some((m) => m.type === x.id));
      if (!dummy) throw new BpfError({ byteOffset: sec.offset + t.at, message: `BTF: no VAR to stand in for the externs of DATASEC '${t.name}'` });
      const size = resolveSize(btf, dummy.sizeOrType);
      t.members.forEach((_m, i) => {
        v.setUint32(entries + i * 12, dummy.id, true);
        v.setUint32(entries + i * 12 + 4, i * size, true);
        v.setUint32(entries + i * 12 + 8, size, true);
      });
      v.setUint32(t.at + 8, Math.max(1, t.members.length) * size, true);
      continue;
    }
    const elfSec = elf.sections.find((s) => s.name === t.name);
    if (!elfSec) continue;
    v.setUint32(t.at + 8, elfSec.size, true);
    t.members.forEach((m, i) => {
      const name = btf.types[m.type]!.name;
      const sym = elf.symbols.find((s) => s.shndx === elfSec.index && s.name === name);
      if (sym) v.setUint32(entries + i * 12 + 4, sym.value, true);
    });
  }
  return out;
}
