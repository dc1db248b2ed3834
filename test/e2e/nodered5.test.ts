/**
 * Node-RED 5 compatibility: node-red@5.0.7 on Node 22 (the npm package `node@22` ships the binary),
 * cached in .test-tmp/nr5 (git-ignored; the first run downloads it from the npm registry).
 * Node-RED 5 loads node modules with import(): this checks that our CommonJS entries load, that
 * every node type registers without error, and that the demo flow deploys and its embedded broker
 * answers MQTT 5 over TCP and over WebSocket on Node-RED's own HTTP server.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import mqtt from 'mqtt';
import { freePort, IN_CI, ROOT } from '../helpers/env';
import {
  FlowNode,
  installPack,
  NodeRedInstance,
  NodeSetInfo,
  nodeTypeProblem,
  ourNodeSets,
  packageNodeTypes,
  readExample,
  relocatePorts,
  startNodeRed,
} from '../package/nodered';

const NR5_VERSION = '5.0.7';
const NR5_DIR = path.join(ROOT, '.test-tmp', 'nr5');
const NODE22 = path.join(NR5_DIR, 'node_modules', 'node', 'bin', 'node');
const RED5 = path.join(NR5_DIR, 'node_modules', 'node-red', 'red.js');

function installedNr5(): string | null {
  try {
    const v = (JSON.parse(fs.readFileSync(path.join(NR5_DIR, 'node_modules', 'node-red', 'package.json'), 'utf8')) as { version: string }).version;
    const node = execFileSync(NODE22, ['--version'], { encoding: 'utf8' }).trim();
    return v === NR5_VERSION && /^v22\./.test(node) ? node : null;
  } catch {
    return null;
  }
}

/** Installs node@22 + node-red@5.0.7 into .test-tmp/nr5 unless already there. */
function ensureNr5(): string {
  const have = installedNr5();
  if (have) return have;
  fs.mkdirSync(NR5_DIR, { recursive: true });
  const pkgFile = path.join(NR5_DIR, 'package.json');
  if (!fs.existsSync(pkgFile)) fs.writeFileSync(pkgFile, JSON.stringify({ name: 'nr5-cache', private: true }, null, 2));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  env.PATH = (env.PATH ?? '').split(path.delimiter).filter((p) => !p.includes(`node_modules${path.sep}.bin`)).join(path.delimiter);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', 'node@22', `node-red@${NR5_VERSION}`], { cwd: NR5_DIR, env, stdio: 'pipe', timeout: 300000 });
  const now = installedNr5();
  if (!now) throw new Error(`node@22 / node-red@${NR5_VERSION} not usable in ${NR5_DIR} after npm install (npm may have skipped node's install script)`);
  return now;
}

function mqttRoundTrip(url: string, topic: string): Promise<{ payload: string; userProperties: unknown }> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10000, clientId: `nr5-test-${Date.now()}` });
    const timer = setTimeout(() => {
      client.end(true);
      reject(new Error(`no MQTT round trip through ${url} within 15 s`));
    }, 15000);
    client.on('error', (err) => {
      clearTimeout(timer);
      client.end(true);
      reject(err);
    });
    client.on('message', (t, payload, packet) => {
      if (t !== topic) return;
      clearTimeout(timer);
      client.end(true, () => resolve({ payload: payload.toString(), userProperties: packet.properties?.userProperties }));
    });
    client.on('connect', () => {
      client.subscribe(topic, { qos: 1 }, (err) => {
        if (err) return reject(err);
        client.publish(topic, 'hello from node-red 5', { qos: 1, properties: { userProperties: { test: 'nr5' } } });
      });
    });
  });
}

describe('e2e: Node-RED 5.0.7 on Node 22', function () {
  this.timeout(240000);
  let nr: NodeRedInstance | undefined;
  let sets: Map<string, NodeSetInfo>;
  let nodeVersion: string;
  const types = packageNodeTypes();

  before(async function () {
    try {
      nodeVersion = ensureNr5();
    } catch (err) {
      // the only way to get Node 22 here is the npm registry: without it, skip outside CI
      if (IN_CI) throw err;
      this.skip();
    }
    nr = await startNodeRed({ modules: await installPack(), nodeBin: NODE22, redJs: RED5, startTimeoutMs: 90000 });
    sets = await ourNodeSets(nr);
  });

  after(async function () {
    if (nr) await nr.stop();
  });

  it('runs node-red 5.0.7 on Node 22', async function () {
    assert.match(nodeVersion, /^v22\./);
    const settings = await nr!.getJson<{ version: string }>('/settings');
    assert.equal(settings.version, NR5_VERSION);
    assert.match(nr!.log(), /Node\.js {2}version: v22\./);
  });

  for (const type of types) {
    it(`loads the CommonJS entry of ${type} through import(): registered, enabled, no error`, function () {
      assert.equal(nodeTypeProblem(sets, type), null);
    });
  }

  it('deploys the demo flow; its embedded broker answers MQTT 5 over TCP and over WebSocket on Node-RED\'s server', async function () {
    const port = await freePort();
    const flow: FlowNode[] = relocatePorts(readExample('demo'), port);
    const log = await nr!.deploy(flow);
    assert.doesNotMatch(log, /Waiting for missing types|Unknown type|\[error\]/, log);
    const broker = flow.find((n) => n.type === 'mqtt5-broker');
    assert.ok(broker, 'the demo flow has no mqtt5-broker');
    assert.equal(broker.tcpPort, port);
    const viaTcp = await mqttRoundTrip(`mqtt://127.0.0.1:${port}`, 'nr5/tcp');
    assert.equal(viaTcp.payload, 'hello from node-red 5');
    assert.deepEqual({ ...(viaTcp.userProperties as object) }, { test: 'nr5' });
    if (broker.wsEnabled && broker.wsMode === 'path') {
      const viaWs = await mqttRoundTrip(`ws://127.0.0.1:${nr!.port}${String(broker.wsPath)}`, 'nr5/ws');
      assert.equal(viaWs.payload, 'hello from node-red 5');
    }
    await nr!.deploy([]);
  });
});
