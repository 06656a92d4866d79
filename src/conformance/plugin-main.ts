#!/usr/bin/env node
// A lean entry point for the suite's plugin protocol: `bpfjit conformance-plugin` without loading the
// rest of the command line (the suite starts one process per test, so start-up time matters).
import { BpfError, UsageError } from '../errors.js';
import { conformancePlugin } from '../cli/conformance.js';

async function run(argv: readonly string[]): Promise<number> {
  try {
    return await conformancePlugin.run(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`bpfjit conformance-plugin: ${e.message}`);
      return 2;
    }
    if (e instanceof BpfError) {
      console.log(e.message);
      return 1;
    }
    console.error(`bpfjit conformance-plugin: internal error: ${(e as Error).message ?? String(e)}`);
    return 70;
  }
}

run(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
