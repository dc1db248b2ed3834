#!/usr/bin/env node
'use strict';
/*
 * npm test: build, then run every test/**\/*.test.ts with mocha (TypeScript through tsx).
 * Prints mocha's spec report and, last, the summary line CI reads: "N passed, M failed, K skipped".
 * Also writes test-results.json. Arguments are extra spec globs/files (default: the whole suite),
 * e.g. `npm test -- test/thingsboard` ; `--grep <re>` filters; `--no-build` skips the build.
 */
const path = require('node:path');
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
let grep; let build = true; const specs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--grep') grep = args[++i];
  else if (args[i] === '--no-build') build = false;
  else specs.push(args[i]);
}
if (build) execFileSync(process.execPath, [path.join(__dirname, 'build.js')], { stdio: 'inherit', cwd: root });

require('tsx/cjs');
const mochaModule = require('mocha');
const Mocha = mochaModule.Mocha || mochaModule.default || mochaModule; // mocha 12 exports an object

function collect(p, acc) {
  const abs = path.resolve(root, p);
  if (!fs.existsSync(abs)) throw new Error(`no such test path: ${p}`);
  if (fs.statSync(abs).isDirectory()) {
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
      const c = path.join(abs, e.name);
      if (e.isDirectory()) collect(c, acc); else if (e.name.endsWith('.test.ts')) acc.push(c);
    }
  } else acc.push(abs);
  return acc;
}
const files = [];
for (const s of specs.length ? specs : ['test']) collect(s, files);
files.sort();

const mocha = new Mocha({ timeout: 30000, reporter: 'spec', grep, color: !process.env.CI });
for (const f of files) mocha.addFile(f);
const t0 = Date.now();
const runner = mocha.run((failures) => {
  const stats = runner.stats || {};
  const passed = stats.passes || 0; const failed = stats.failures || 0; const skipped = stats.pending || 0;
  fs.writeFileSync(path.join(root, 'test-results.json'), JSON.stringify({ passed, failed, skipped, files: files.length, ms: Date.now() - t0 }, null, 2));
  process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  process.exitCode = failures ? 1 : 0;
  // leave a little time for servers to close; then exit even if a handle leaks
  setTimeout(() => process.exit(process.exitCode), 500);
});
