// `--elf` input of the plugin protocol: the suite can send the program as an ELF object (its
// bpf_writer_classic: the function `main` in section `.text`, or `xdp` with the XDP prolog), hex-encoded
// on stdin. The function's instructions are taken as they are; relocations (maps) are refused.
import { BpfError } from '../errors.js';
import { parseElf } from '../loader/elf.js';

const STT_FUNC = 2;
const SHT_REL = 9;

export function programFromElf(bytes: Uint8Array, functionName = 'main'): Uint8Array {
  const elf = parseElf(bytes);
  const sym = elf.symbols.find((s) => s.name === functionName && s.type === STT_FUNC);
  if (!sym) throw new BpfError({ message: `ELF: no function '${functionName}'` });
  const sec = elf.sections[sym.shndx];
  if (!sec) throw new BpfError({ message: `ELF: function '${functionName}' is in section ${sym.shndx}, which does not exist` });
  if (elf.sections.some((s) => s.type === SHT_REL && s.info === sec.index && s.size > 0)) {
    throw new BpfError({ message: `ELF: section '${sec.name}' has relocations (maps), which the plugin does not support` });
  }
  const end = sym.size > 0 ? sym.value + sym.size : sec.size;
  if (sym.value % 8 !== 0 || end > sec.size) {
    throw new BpfError({ message: `ELF: function '${functionName}' (${sym.value}..${end}) does not fit section '${sec.name}'` });
  }
  return sec.data.slice(sym.value, end);
}
