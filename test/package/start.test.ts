/**
 * `npm start` (scripts/start.js): a real Node-RED with the pack and the demo flow, in a temporary
 * user directory (NODE_RED_USER_DIR) on free ports, without rebuilding (MQTT5HUB_SKIP_BUILD=1).
 */
import assert from 'node:assert/strict';
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort, ROOT, tmpDir, waitFor } from '../helpers/env';
import { indexNodeSets, MODULE, NodeSetInfo, nodeTypeProblem, packageNodeTypes, readExample } from './nodered';

interface Started {
  proc: ChildProcess;
  out: () => string;
  exit: Promise<number | null>;
}

function start(userDir: string, env: Record<string, string>): Started {
  const proc = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start.js')], {
    cwd: ROOT,
    env: { ...process.env, NODE_RED_USER_DIR: userDir, MQTT5HUB_SKIP_BUILD: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, out: () => out, exit };
}

async function stop(s: Started): Promise<number | null> {
  if (s.proc.exitCode === null) s.proc.kill('SIGINT');
  return s.exit;
}

describe('npm start (scripts/start.js)', function () {
  this.timeout(90000);
  let userDir: string;
  let port: number;
  let mqttPort: number;
  let running: Started | undefined;

  before(async function () {
    userDir = path.join(tmpDir('mqtt5hub-start-'), 'data');
    port = await freePort();
    mqttPort = await freePort();
  });

  afterEach(async function () {
    if (running) await stop(running);
    running = undefined;
  });

  after(function () {
    fs.rmSync(path.dirname(userDir), { recursive: true, force: true });
  });

  it('starts Node-RED on 127.0.0.1:PORT with the pack loaded and the demo flow deployed; SIGINT stops it', async function () {
    running = start(userDir, { PORT: String(port), MQTT_PORT: String(mqttPort) });
    const s = running;
    await waitFor(() => s.out().includes(`Node-RED editor: http://127.0.0.1:${port}/`), 60000, `the editor URL; output:\n${s.out()}`);
    await waitFor(() => /Started flows/.test(s.out()), 30000, `flows to start; output:\n${s.out()}`);

    // the pack is found through the user directory's node_modules, as an installed module
    const link = path.join(userDir, 'node_modules', MODULE);
    assert.equal(fs.realpathSync(link), fs.realpathSync(ROOT));
    const upkg = JSON.parse(fs.readFileSync(path.join(userDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.match(upkg.dependencies[MODULE] ?? '', /^file:/);

    const sets = (await (await fetch(`http://127.0.0.1:${port}/nodes`, { headers: { Accept: 'application/json' } })).json()) as NodeSetInfo[];
    const ours = indexNodeSets(sets);
    assert.ok(sets.some((set) => set.module === MODULE), `${MODULE} not loaded`);
    const problems = packageNodeTypes().map((t) => nodeTypeProblem(ours, t)).filter(Boolean);
    assert.deepEqual(problems, [], 'node types not usable in npm start');

    const flows = (await (await fetch(`http://127.0.0.1:${port}/flows`, { headers: { Accept: 'application/json' } })).json()) as Array<{ id: string }>;
    assert.deepEqual(flows.map((n) => n.id).sort(), readExample('demo').map((n) => n.id).sort());
    assert.doesNotMatch(s.out(), /Waiting for missing types|\[error\]/);
    // the demo broker port is moved to MQTT_PORT; nothing may still point at 1883
    assert.doesNotMatch(fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8'), /(?<![0-9])1883(?![0-9])/);

    assert.equal(await stop(s), 0);
    assert.match(s.out(), /Stopped flows/);
  });

  it('keeps an existing flows file (the user\'s edits) on the next start', async function () {
    const flowsFile = path.join(userDir, 'flows.json');
    const mine = [{ id: 'aaaabbbbccccdddd', type: 'tab', label: 'my edits', disabled: false, info: '' }];
    fs.writeFileSync(flowsFile, JSON.stringify(mine));
    running = start(userDir, { PORT: String(port) });
    const s = running;
    await waitFor(() => /Started flows/.test(s.out()), 60000, `flows to start; output:\n${s.out()}`);
    assert.match(s.out(), /keeping your flows/);
    const flows = (await (await fetch(`http://127.0.0.1:${port}/flows`, { headers: { Accept: 'application/json' } })).json()) as Array<{ id: string }>;
    assert.deepEqual(flows.map((n) => n.id), ['aaaabbbbccccdddd']);
    assert.equal(await stop(s), 0);
  });

  it('refuses an invalid PORT with a precise message', async function () {
    const s = start(userDir, { PORT: '70000' });
    assert.equal(await s.exit, 1);
    assert.match(s.out(), /PORT=70000 is not a TCP port/);
  });
});
