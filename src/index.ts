// bpfjit public API.
export * from './errors.js';
export * from './isa/index.js';
export * from './loader/index.js';
export * from './arena/index.js';
export * from './jit/index.js';
