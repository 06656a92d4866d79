// src/emu — runs JIT output on an emulated x86-64 CPU (Unicorn) in a kernel-like address space.
export { Engine, BPF_LOOP_CODE, RETURN_ADDR } from './engine.js';
export { bpfLocation, DEFAULT_TIMEOUT_MS } from './run.js';
export type {
  EngineOptions, RunOptions, RunResult, Fault as EmuFault, FaultKind as EmuFaultKind, ArenaFault as EmuArenaFault, TraceStep, RunEvent,
} from './types.js';
export { kernelImageFunctions, arenaExtable } from './kimage.js';
export { BpfMap, MAP_VALUE_OFFSET } from './maps.js';
export type { MapSpec, MapKind } from './maps.js';
export { HelperState as EmuHelperState, HELPERS as EMU_HELPERS, KFUNCS as EMU_KFUNCS } from './helpers.js';
export type { HelperCall as EmuHelperCall, HelperFn as EmuHelperFn } from './helpers.js';
export { HelperId, HELPER_NAMES, LINUX_6_18, LAYOUT } from './layout.js';
export type { KernelSymbols } from './layout.js';
export { HostMemory } from './unicorn.js';
export { compileFor, ARENA_MAP_PTR, type CompileOptions, type Compiled, type MapInit } from './pipeline.js';
