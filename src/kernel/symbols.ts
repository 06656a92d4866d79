// src/kernel — kernel symbols: kfunc BTF ids from /sys/kernel/btf/vmlinux (just enough BTF parsing to
// find FUNC entries by name) and addresses from /proc/kallsyms (__bpf_call_base, kfunc addresses).
import { readFileSync } from 'node:fs';
import { BpfError } from '../errors.js';

const BTF_MAGIC = 0xeb9f;
const KIND_FUNC = 12;

/** Bytes of kind-specific data after the 12-byte btf_type header. */
function trailing(kind: number, vlen: number): number {
  switch (kind) {
    case 1: // INT
    case 14: // VAR
    case 17: // DECL_TAG
      return 4;
    case 3: // ARRAY
      return 12;
    case 4: // STRUCT
    case 5: // UNION
    case 15: // DATASEC
    case 19: // ENUM64
      return 12 * vlen;
    case 6: // ENUM
    case 13: // FUNC_PROTO
      return 8 * vlen;
    default: // PTR FWD TYPEDEF VOLATILE CONST RESTRICT FUNC FLOAT TYPE_TAG
      return 0;
  }
}

/** Every FUNC in a BTF blob: name → type id (the first one wins). */
export function btfFuncIds(btf: Uint8Array, source = 'BTF'): Map<string, number> {
  const v = new DataView(btf.buffer, btf.byteOffset, btf.byteLength);
  if (btf.length < 24 || v.getUint16(0, true) !== BTF_MAGIC) throw new BpfError({ byteOffset: 0, message: `${source}: not BTF (bad magic)` });
  const hdrLen = v.getUint32(4, true);
  const typeStart = hdrLen + v.getUint32(8, true);
  const typeEnd = typeStart + v.getUint32(12, true);
  const strStart = hdrLen + v.getUint32(16, true);
  const strEnd = strStart + v.getUint32(20, true);
  if (typeEnd > btf.length || strEnd > btf.length) throw new BpfError({ byteOffset: 0, message: `${source}: sections exceed the file` });
  const dec = new TextDecoder();
  const name = (off: number): string => {
    const s = strStart + off;
    const e = btf.indexOf(0, s);
    return dec.decode(btf.subarray(s, e < 0 || e > strEnd ? strEnd : e));
  };
  const out = new Map<string, number>();
  let id = 1;
  for (let p = typeStart; p < typeEnd; id++) {
    if (p + 12 > typeEnd) throw new BpfError({ byteOffset: p, message: `${source}: truncated type ${id}` });
    const info = v.getUint32(p + 4, true);
    const kind = (info >>> 24) & 0x1f;
    if (kind === KIND_FUNC) {
      const n = name(v.getUint32(p, true));
      if (!out.has(n)) out.set(n, id);
    }
    p += 12 + trailing(kind, info & 0xffff);
  }
  return out;
}

let vmlinux: Map<string, number> | null = null;

/** BTF id of a vmlinux function (kfunc) by name. */
export function kfuncBtfId(name: string): number {
  if (!vmlinux) {
    let data: Uint8Array;
    try {
      data = new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux'));
    } catch (e) {
      throw new BpfError({ message: `cannot read /sys/kernel/btf/vmlinux: ${(e as NodeJS.ErrnoException).code ?? String(e)}` });
    }
    vmlinux = btfFuncIds(data, '/sys/kernel/btf/vmlinux');
  }
  const id = vmlinux.get(name);
  if (id === undefined) throw new BpfError({ message: `kfunc '${name}' is not in the kernel's BTF` });
  return id;
}

let kallsyms: Map<string, bigint> | null = null;

/** Address of a kernel symbol from /proc/kallsyms (root sees real addresses; others see zeros → null). */
export function kernelSymbol(name: string): bigint | null {
  if (!kallsyms) {
    kallsyms = new Map();
    const text = readFileSync('/proc/kallsyms', 'utf8');
    for (const line of text.split('\n')) {
      const sp1 = line.indexOf(' ');
      const sp2 = line.indexOf(' ', sp1 + 1);
      if (sp1 < 0 || sp2 < 0) continue;
      const rest = line.slice(sp2 + 1);
      const tab = rest.indexOf('\t'); // module symbols carry "\t[module]"
      const sym = tab < 0 ? rest : rest.slice(0, tab);
      if (!kallsyms.has(sym)) kallsyms.set(sym, BigInt(`0x${line.slice(0, sp1)}`));
    }
  }
  const a = kallsyms.get(name);
  return a === undefined || a === 0n ? null : a;
}

/** The kernel symbol at exactly this address (for messages), or null. */
export function kernelSymbolAt(addr: bigint): string | null {
  kernelSymbol('__bpf_call_base'); // loads the table
  for (const [name, a] of kallsyms ?? []) if (a === addr) return name;
  return null;
}
