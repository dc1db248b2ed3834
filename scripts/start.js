#!/usr/bin/env node
'use strict';
/*
 * npm start: a real Node-RED (the devDependency node-red, 4.1.15) with this pack loaded and the
 * demo flow deployed.
 *
 *   - builds first when nodes/ is missing or older than src/, icons/ or package.json
 *   - user directory .node-red-data/ (git-ignored); the pack is loaded the way the palette manager
 *     installs it: .node-red-data/package.json lists it and .node-red-data/node_modules/<name> is a
 *     symlink to this repository, so Node-RED finds it by scanning the user directory's node_modules
 *   - examples/demo.json becomes the flows file only when there is no flows file yet (your edits stay)
 *   - settings.js is written only when missing (edit it freely; delete it to get the default back)
 *
 * Environment: PORT (editor, default 1880), MQTT_PORT (the demo broker's port, default 1883; applied
 * when the demo flow is first copied), NODE_RED_USER_DIR (default .node-red-data),
 * MQTT5HUB_SKIP_BUILD=1 (use nodes/ as it is; the tests set it).
 * Ctrl-C (SIGINT) stops Node-RED cleanly.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const userDir = path.resolve(root, process.env.NODE_RED_USER_DIR || '.node-red-data');
const CREDENTIAL_SECRET = 'mqtt5-hub-demo-secret';

function fail(msg) {
  process.stderr.write(`npm start: ${msg}\n`);
  process.exit(1);
}

function portFromEnv(name, def) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) fail(`${name}=${raw} is not a TCP port (1-65535)`);
  return n;
}

const port = portFromEnv('PORT', 1880);
const mqttPort = portFromEnv('MQTT_PORT', 1883);

function newestMtime(p) {
  if (!fs.existsSync(p)) return 0;
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of fs.readdirSync(p)) m = Math.max(m, newestMtime(path.join(p, e)));
  return m;
}

function ensureBuilt() {
  if (process.env.MQTT5HUB_SKIP_BUILD === '1') return;
  const entries = Object.values(pkg['node-red'].nodes).map((f) => path.join(root, f));
  const missing = entries.filter((f) => !fs.existsSync(f) || !fs.existsSync(f.replace(/\.js$/, '.html')));
  const built = missing.length ? 0 : Math.min(...entries.map((f) => fs.statSync(f).mtimeMs));
  const sources = Math.max(newestMtime(path.join(root, 'src')), newestMtime(path.join(root, 'icons')), newestMtime(path.join(root, 'package.json')));
  if (missing.length === 0 && built >= sources) return;
  process.stdout.write(missing.length ? 'npm start: nodes/ is incomplete, building...\n' : 'npm start: sources changed, building...\n');
  try {
    execFileSync(process.execPath, [path.join(root, 'scripts', 'build.js')], { stdio: 'inherit', cwd: root });
  } catch {
    fail('the build failed (see above)');
  }
}

/** Every `from` port in the flow (numbers, numeric strings, and mentions in text) becomes `to`. */
function relocate(value, from, to) {
  if (from === to) return value;
  if (value === from) return to;
  if (value === String(from)) return String(to);
  if (typeof value === 'string') return value.replace(new RegExp(`(?<![0-9])${from}(?![0-9])`, 'g'), String(to));
  if (Array.isArray(value)) return value.map((v) => relocate(v, from, to));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, relocate(v, from, to)]));
  }
  return value;
}

function prepareUserDir() {
  fs.mkdirSync(path.join(userDir, 'node_modules'), { recursive: true });
  // the user directory's package.json lists the pack, as the palette manager records an install
  const upkgFile = path.join(userDir, 'package.json');
  const upkg = fs.existsSync(upkgFile)
    ? JSON.parse(fs.readFileSync(upkgFile, 'utf8'))
    : { name: 'node-red-project', description: 'npm start user directory of ' + pkg.name, version: '0.0.1', private: true };
  upkg.dependencies = { ...upkg.dependencies, [pkg.name]: `file:${path.relative(userDir, root) || '.'}` };
  fs.writeFileSync(upkgFile, JSON.stringify(upkg, null, 2) + '\n');

  const link = path.join(userDir, 'node_modules', ...pkg.name.split('/'));
  fs.mkdirSync(path.dirname(link), { recursive: true });
  let current;
  try {
    current = fs.realpathSync(link);
  } catch {
    current = null;
  }
  if (current !== fs.realpathSync(root)) {
    fs.rmSync(link, { recursive: true, force: true });
    fs.symlinkSync(path.relative(path.dirname(link), root), link, 'dir');
  }

  const settingsFile = path.join(userDir, 'settings.js');
  if (!fs.existsSync(settingsFile)) {
    const settings = {
      uiHost: '127.0.0.1',
      uiPort: 1880,
      flowFile: 'flows.json',
      flowFilePretty: true,
      credentialSecret: CREDENTIAL_SECRET,
      diagnostics: { enabled: true, ui: true },
      telemetry: { enabled: false, updateNotification: false },
      externalModules: { autoInstall: false },
      editorTheme: { projects: { enabled: false }, tours: false },
      logging: { console: { level: 'info', metrics: false, audit: false } },
      functionExternalModules: false,
    };
    fs.writeFileSync(
      settingsFile,
      `// Written by \`npm start\` (scripts/start.js) once; edit freely, delete to regenerate.\n` +
        `// The editor port comes from the PORT environment variable (default 1880).\n` +
        `module.exports = ${JSON.stringify(settings, null, 4)};\n`,
    );
  }

  const flowsFile = path.join(userDir, 'flows.json');
  if (!fs.existsSync(flowsFile)) {
    const demo = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'demo.json'), 'utf8'));
    // the demo's texts name the editor port (ws://127.0.0.1:1880/mqtt) and the broker port
    const flow = relocate(relocate(demo, 1883, mqttPort), 1880, port);
    fs.writeFileSync(flowsFile, JSON.stringify(flow, null, 4) + '\n');
    process.stdout.write(`npm start: deployed examples/demo.json into ${path.relative(root, flowsFile)}\n`);
  } else {
    process.stdout.write(`npm start: keeping your flows in ${path.relative(root, flowsFile)} (delete it to get the demo back)\n`);
  }
  return settingsFile;
}

function main() {
  ensureBuilt();
  const settingsFile = prepareUserDir();
  const redJs = path.join(root, 'node_modules', 'node-red', 'red.js');
  if (!fs.existsSync(redJs)) fail('node_modules/node-red is missing: run `npm install` first');

  const child = spawn(process.execPath, [redJs, '-u', userDir, '-s', settingsFile, '-p', String(port)], {
    cwd: userDir,
    stdio: ['inherit', 'pipe', 'inherit'],
  });
  let announced = false;
  let buffer = '';
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    if (announced) return;
    buffer += chunk.toString();
    if (/Server now running at/.test(buffer)) {
      announced = true;
      buffer = '';
      process.stdout.write(`\n  Node-RED editor: http://127.0.0.1:${port}/\n  (Ctrl-C to stop)\n\n`);
    }
  });

  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    child.kill('SIGINT');
    const t = setTimeout(() => child.kill('SIGKILL'), 10000);
    t.unref();
    process.stdout.write(`npm start: ${signal}, stopping Node-RED...\n`);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  child.on('exit', (code, signal) => {
    process.exit(code ?? (signal ? (stopping ? 0 : 1) : 0));
  });
}

main();
