#!/usr/bin/env node
// The fastest start of the plugin (the suite starts one process per test): runs the single-file bundle of
// plugin-main (dist/conformance/plugin.bundle.cjs, made by scripts/bundle-plugin.mjs) through a V8 code
// cache kept beside it, so neither module resolution nor compilation is repeated in every process.
// Falls back to the unbundled entry when the bundle is missing (a build without esbuild).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

const bundle = join(__dirname, 'plugin.bundle.cjs');
const cacheFile = `${bundle}.v8cache`;

function runBundle(source: string): void {
  let cached: Buffer | undefined;
  try {
    cached = readFileSync(cacheFile);
  } catch {
    cached = undefined; // first run: compiled from source, the cache is written at exit
  }
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${source.replace(/^#!.*/, '')}\n})`;
  const script = new Script(wrapper, { filename: bundle, cachedData: cached });
  const fn = script.runInThisContext() as (e: object, r: NodeJS.Require, m: object, f: string, d: string) => void;
  const mod = { exports: {} };
  fn.call(mod.exports, mod.exports, createRequire(bundle), mod, bundle, dirname(bundle));
  if (cached === undefined || script.cachedDataRejected === true) {
    // After the run, so the cache also holds the functions this run compiled lazily. A read-only
    // install or a concurrent writer only costs the next process its compile time.
    process.once('beforeExit', () => {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch {
        /* not writable: run uncached */
      }
    });
  }
}

let source: string | null;
try {
  source = readFileSync(bundle, 'utf8');
} catch {
  source = null;
}
if (source !== null) runBundle(source);
else void import('./plugin-main.js');
