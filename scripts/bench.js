#!/usr/bin/env node
'use strict';
/*
 * npm run bench: compares this project's broker (its built CLI) with Aedes and Mosquitto under
 * the same load. See bench/main.ts for the scenarios and `npm run bench -- --help` for options.
 * Rebuilds first when nodes/lib/broker is missing or older than src/broker (skip: --no-build).
 */
const path = require('node:path');
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);

function newestMtime(dir) {
  let t = 0;
  if (!fs.existsSync(dir)) return t;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

const cli = path.join(root, 'nodes', 'lib', 'broker', 'cli.js');
const src = path.join(root, 'src', 'broker');
if (!args.includes('--no-build') && fs.existsSync(path.join(src, 'cli.ts'))) {
  const stale = !fs.existsSync(cli) || newestMtime(src) > fs.statSync(cli).mtimeMs;
  if (stale) {
    process.stdout.write('bench: building (nodes/lib/broker is older than src/broker)\n');
    try {
      execFileSync(process.execPath, [path.join(__dirname, 'build.js')], {
        stdio: 'inherit', cwd: root, env: { ...process.env, BUILD_ALLOW_TS_ERRORS: '1' },
      });
    } catch {
      process.stderr.write('bench: build failed; using whatever nodes/lib/broker holds\n');
    }
  }
}

require('tsx/cjs');
require('../bench/main.ts').main(args).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`bench: ${err && err.message ? err.message : err}\n`);
    process.exitCode = 2;
  },
);
