// src/interp — the reference interpreter: an independent oracle for the JIT + emulator pipeline.
export * from './interp.js';
export { SparseArena, FreeRanges, type ArenaView, type SparseArenaOptions } from './arena.js';
export { Fault, Layout, Memory, type AccessSize, type Region } from './memory.js';
export { alu32, alu64, byteSwap, endian, signExtend } from './alu.js';
export * from './env.js';
export * from './helpers.js';
export { arenaView } from './arena-view.js';
