// src/isa — BPF instructions: the model, binary codec, validation and text (print and parse).
export * from './opcodes.js';
export * from './insn.js';
export * from './codec.js';
export * from './helpers.js';
export * from './validate.js';
export * from './print.js';
export * from './parse.js';
