#!/usr/bin/env node
'use strict';
/*
 * npm run bench:flow: messages per second through a real Node-RED flow
 *   external publisher → broker → in node → out node → broker → external subscriber  (QoS 1)
 * for our mqtt5 nodes on the embedded broker in-process, our nodes over TCP, and Node-RED's core
 * mqtt nodes with Aedes 1.2.0. Each run is its own process (bench/flow-run.ts via tsx); runs are
 * interleaved; the table shows the median of the runs and the ratio to core + Aedes.
 *
 *   npm run bench:flow [-- --runs 3 --messages 50000 --no-build]
 * Writes bench-results/flow.json.
 */
const path = require('node:path');
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? Number(args[i + 1]) : dflt;
};
const runs = opt('runs', 3);
const messages = opt('messages', 50000);
const SCENARIOS = [
  ['ours-inprocess', 'mqtt5 nodes, embedded broker in-process'],
  ['ours-tcp', 'mqtt5 nodes, embedded broker over TCP'],
  ['core-aedes', 'core mqtt nodes + Aedes 1.2.0'],
];

if (!args.includes('--no-build')) {
  execFileSync(process.execPath, [path.join(__dirname, 'build.js')], {
    stdio: 'inherit', cwd: root, env: { ...process.env, BUILD_ALLOW_TS_ERRORS: '1' },
  });
}

const tsxCjs = require.resolve('tsx/cjs');
const results = Object.fromEntries(SCENARIOS.map(([s]) => [s, []]));
for (let r = 1; r <= runs; r++) {
  for (const [s] of SCENARIOS) {
    let res;
    for (let attempt = 1; !res; attempt++) {
      try {
        const out = execFileSync(process.execPath, ['--require', tsxCjs, path.join(root, 'bench', 'flow-run.ts'), s, String(messages)], {
          cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 300000,
        });
        res = JSON.parse(out.trim().split('\n').pop());
      } catch (e) {
        // e.g. a concurrent `npm run build` rewrote nodes/ while Node-RED was loading it
        if (attempt >= 3) throw e;
        process.stdout.write(`run ${r}/${runs} ${s}: failed, retrying\n`);
      }
    }
    results[s].push(res.rate);
    process.stdout.write(`run ${r}/${runs} ${s}: ${res.rate} msg/s (${res.n} in ${res.ms} ms)\n`);
  }
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const base = median(results['core-aedes']);
const rows = SCENARIOS.map(([s, label]) => {
  const m = median(results[s]);
  return { scenario: s, label, runs: results[s], median: m, ratio: Math.round((m / base) * 100) / 100 };
});
process.stdout.write(`\nflow throughput, QoS 1, ${messages} messages, median of ${runs} runs\n`);
process.stdout.write(`${'scenario'.padEnd(44)}${'msg/s'.padStart(10)}${'vs core+Aedes'.padStart(16)}\n`);
for (const r of rows) {
  process.stdout.write(`${r.label.padEnd(44)}${String(Math.round(r.median)).padStart(10)}${(r.ratio.toFixed(2) + 'x').padStart(16)}\n`);
}
fs.mkdirSync(path.join(root, 'bench-results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench-results', 'flow.json'),
  JSON.stringify({ date: new Date().toISOString(), messages, runs, rows }, null, 2));
