// src/loader — BPF object files from clang (ELF64 + BTF): programs, maps, arena globals, kfuncs, line info.
export * from './types.js';
export { loadObject, programEnv, sourceLineAt, findProgram, sectionProgType, type ProgramRun } from './object.js';
export { mapTypeName } from './maps.js';
export { parseElf, EM_BPF, RelType, type ElfFile, type ElfSection, type ElfSymbol } from './elf.js';
export { isElf } from './detect.js';
export { kernelBtf } from './sanitize.js';
