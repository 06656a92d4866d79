// src/fuzz — robustness: differential fuzzing (Unicorn path vs reference interpreter) with minimised
// reproducers, and corruption fuzzing of every entry point (bad input must end in a located BpfError).
export { EditList, relField, type Raw } from './edit.js';
export { EmuPath, runInterp, arenaOf, FUZZ_LIMITS, type Prepared, type Outcome, type FaultClass, type RunLimits } from './pipeline.js';
export { check, minimise, type Verdict, type Minimised } from './diff.js';
export { generated, mutableSites, mutate, mutateEnv, type FuzzCase } from './gen.js';
export { fuzz, fuzzCase, caseStream, loadCorpus, reproducer, reproducerCase, type FuzzOptions, type FuzzStats, type Reproducer, type CorpusEntry } from './fuzz.js';
export { corruptionFuzz, corruptBytes, corruptText, type CorruptionStats, type CorruptionFailure, type CorruptionOptions, type Format } from './corrupt.js';
