#!/usr/bin/env node
// Bundles the conformance plugin (dist/conformance/plugin-main.js and everything it may load) into one
// CommonJS file, dist/conformance/plugin.bundle.cjs, for dist/conformance/plugin-launcher.cjs: the suite
// starts one process per test, and resolving ~80 ES modules costs more than running the test.
// Native and WebAssembly packages (koffi, iced-x86) stay external. Run after `tsc` (scripts/setup.sh).
import { build } from 'esbuild';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'dist/conformance');
const outfile = join(dist, 'plugin.bundle.cjs');
const out = await build({
  entryPoints: [join(dist, 'plugin-main.js')],
  outfile,
  write: false,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['koffi', 'iced-x86'],
  // createRequire(import.meta.url) resolves packages from the bundle's own location.
  define: { 'import.meta.url': '__bundle_url' },
  banner: { js: "const __bundle_url = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
const code = out.outputFiles[0].contents;
// Rewritten only when it changed: a new bundle drops the V8 code cache built for the old one.
if (!existsSync(outfile) || !readFileSync(outfile).equals(code)) {
  writeFileSync(outfile, code);
  rmSync(`${outfile}.v8cache`, { force: true });
}
chmodSync(join(dist, 'plugin-launcher.cjs'), 0o755);
