// src/kernel — the host's bpf(): the real kernel as an oracle (load, read back the JIT image and the
// verified program, run once, read the arena back), in the kernel corpus's formats.
export { BpfUnavailableError, SyscallError, bpfAvailability, requireBpf, errnoName } from './sys.js';
export { ProgLoadError, verifierReason, LogLevel, MapFlag, MapType, ProgFlag, ProgType, mapCreate, btfLoad, progLoad, progInfo, testRun, type ProgInfo, type FuncInfo, type ProgLoadResult, type TestRunResult } from './bpf.js';
export { btfFuncIds, kfuncBtfId, kernelSymbol, kernelSymbolAt } from './symbols.js';
export { resolveXlated, returnThunkTarget, functionStarts, type Resolution, type ResolveInput, type LdImm64Check } from './resolve.js';
export { resolvePlaceholders, type Placed } from './placeholders.js';
export { KernelArena, MAX_PROBED_PAGES } from './arena.js';
export { runInKernel, kernelText, inlineHelperLoads, type KernelRecord, type OracleOptions, type OracleResult } from './oracle.js';
export { compareKernelRecords, sameUpToArenaPointers, type ComparableRecord, type RecordDiff } from './compare.js';
export { generate, Rng, GEN_KFUNCS, type Generated, type GenOptions } from './gen.js';
export { buildCorpus, corpusName, type BuildOptions, type BuildReport } from './corpus.js';
export { createMaps, closeMaps, type KernelMapSpec } from './maps.js';
