/**
 * `npm start` (scripts/start.js): a real Node-RED with the pack and the demo flow, in a temporary
 * user directory (NODE_RED_USER_DIR) on free ports, without rebuilding (MQTT5HUB_SKIP_BUILD=1).
 */
import assert from 'node:assert/strict';
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import mqtt from 'mqtt';
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

interface Inbox {
  client: mqtt.MqttClient;
  next(topic: string, timeoutMs?: number): Promise<{ payload: Buffer; packet: mqtt.IPublishPacket }>;
}

/** An MQTT 5 client that records what it receives; next(topic) waits for the next message on it. */
async function inbox(url: string, filters: string[]): Promise<Inbox> {
  const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10000 });
  const queue: Array<{ topic: string; payload: Buffer; packet: mqtt.IPublishPacket }> = [];
  client.on('message', (topic, payload, packet) => queue.push({ topic, payload, packet }));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(filters.map((f) => ({ topic: f, qos: 1 as const })).reduce((o, f) => ({ ...o, [f.topic]: { qos: f.qos } }), {}));
  return {
    client,
    next: (topic, timeoutMs = 15000) =>
      waitFor(
        () => {
          const i = queue.findIndex((m) => m.topic === topic);
          return i >= 0 ? queue.splice(i, 1)[0] : undefined;
        },
        timeoutMs,
        `a message on ${topic}`,
      ) as Promise<{ payload: Buffer; packet: mqtt.IPublishPacket }>,
  };
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

  after(async function () {
    if (running) await stop(running);
    fs.rmSync(path.dirname(userDir), { recursive: true, force: true });
  });

  describe('first start', function () {
    let s: Started;

    before(async function () {
      running = start(userDir, { PORT: String(port), MQTT_PORT: String(mqttPort) });
      s = running;
      await waitFor(() => s.out().includes(`Node-RED editor: http://127.0.0.1:${port}/`), 60000, `the editor URL; output:\n${s.out()}`);
      await waitFor(() => /Started flows/.test(s.out()), 30000, `flows to start; output:\n${s.out()}`);
    });

    it('starts Node-RED on 127.0.0.1:PORT with the pack loaded as an installed module', async function () {
      const link = path.join(userDir, 'node_modules', MODULE);
      assert.equal(fs.realpathSync(link), fs.realpathSync(ROOT));
      const upkg = JSON.parse(fs.readFileSync(path.join(userDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
      assert.match(upkg.dependencies[MODULE] ?? '', /^file:/);
      const sets = (await (await fetch(`http://127.0.0.1:${port}/nodes`, { headers: { Accept: 'application/json' } })).json()) as NodeSetInfo[];
      assert.ok(sets.some((set) => set.module === MODULE), `${MODULE} not loaded`);
      const ours = indexNodeSets(sets);
      const problems = packageNodeTypes().map((t) => nodeTypeProblem(ours, t)).filter(Boolean);
      assert.deepEqual(problems, [], 'node types not usable in npm start');
    });

    it('deploys the demo flow, with its ports moved to MQTT_PORT and PORT', async function () {
      const flows = (await (await fetch(`http://127.0.0.1:${port}/flows`, { headers: { Accept: 'application/json' } })).json()) as Array<{ id: string }>;
      assert.deepEqual(flows.map((n) => n.id).sort(), readExample('demo').map((n) => n.id).sort());
      assert.doesNotMatch(s.out(), /Waiting for missing types|\[error\]/);
      const text = fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8');
      assert.doesNotMatch(text, /(?<![0-9])1883(?![0-9])/);
      assert.match(text, new RegExp(`"tcpPort": ${mqttPort}`));
    });

    it('runs the demo: publish with user properties, ThingsBoard telemetry, request/response, MQTT over WebSocket', async function () {
      const box = await inbox(`mqtt://127.0.0.1:${mqttPort}`, ['demo/sensors/+', 'v1/devices/me/telemetry', 'test/reply']);
      try {
        // the "reading" inject -> mqtt5 out with a user property and a content type
        const res = await fetch(`http://127.0.0.1:${port}/inject/a1b2c3d4e5f60010`, { method: 'POST' });
        assert.equal(res.status, 200);
        const reading = await box.next('demo/sensors/room1');
        assert.deepEqual(JSON.parse(reading.payload.toString()), { temperature: 21.5, humidity: 40 });
        assert.equal(reading.packet.properties?.contentType, 'application/json');
        assert.equal(reading.packet.properties?.userProperties?.site, 'demo');

        // the ThingsBoard formatter -> mqtt5 out (topic from msg.topic)
        assert.equal((await fetch(`http://127.0.0.1:${port}/inject/a1b2c3d4e5f60001`, { method: 'POST' })).status, 200);
        const tb = await box.next('v1/devices/me/telemetry');
        const telemetry = JSON.parse(tb.payload.toString()) as Record<string, unknown>;
        assert.equal(JSON.stringify(telemetry).includes('"temperature":21.5'), true, tb.payload.toString());

        // the responder flow answers a request on demo/service/time at its Response Topic
        await box.client.publishAsync('demo/service/time', 'now?', {
          qos: 1,
          properties: { responseTopic: 'test/reply', correlationData: Buffer.from('req-42') },
        });
        const reply = await box.next('test/reply');
        assert.equal(reply.packet.properties?.correlationData?.toString(), 'req-42');
        assert.ok(Number(reply.payload.toString()) > 1e12, `reply is not a timestamp: ${reply.payload.toString()}`);
      } finally {
        await box.client.endAsync(true);
      }
      // MQTT over WebSocket on Node-RED's own HTTP server
      const ws = await inbox(`ws://127.0.0.1:${port}/mqtt`, ['demo/ws']);
      try {
        await ws.client.publishAsync('demo/ws', 'over websocket', { qos: 1 });
        assert.equal((await ws.next('demo/ws')).payload.toString(), 'over websocket');
      } finally {
        await ws.client.endAsync(true);
      }
    });

    it('stops on SIGINT with exit code 0', async function () {
      assert.equal(await stop(s), 0);
      running = undefined;
      assert.match(s.out(), /Stopped flows/);
    });
  });

  describe('next starts', function () {
    it("keeps an existing flows file (the user's edits) on the next start", async function () {
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
      running = undefined;
    });

    it('refuses an invalid PORT with a precise message', async function () {
      const s = start(userDir, { PORT: '70000' });
      assert.equal(await s.exit, 1);
      assert.match(s.out(), /PORT=70000 is not a TCP port/);
    });
  });
});
