// src/conformance — bpf_conformance `.data` tests: file reader, group/CPU requirements, runner, engines,
// and the plugin protocol.
export * from './data.js';
export * from './requirements.js';
export * from './engine.js';
export * from './runner.js';
export * from './plugin.js';
export { interpEngine } from './interp-engine.js';
