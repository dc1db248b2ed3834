/**
 * A compatibility suite for one Node-RED release other than the devDependency (4.1.15): the release
 * (and, when needed, a Node binary from the npm package `node@<major>`) is installed once into
 * .test-tmp/<dir> (git-ignored; the first run downloads from the npm registry), the packed tarball
 * is installed into a fresh user directory, and a real node-red process checks that every node type
 * loads, and that the demo flow deploys and its embedded broker answers MQTT 5 over TCP and over
 * WebSocket on Node-RED's own HTTP server.
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

export interface Release {
  /** node-red version to install, e.g. '5.0.7' */
  nodeRed: string;
  /** major version of the `node` npm package to run it with; omitted: the Node running the tests */
  nodeMajor?: number;
  /** directory under .test-tmp/ */
  dir: string;
  /** how node-red loads node modules, for the test titles */
  loader: string;
}

function paths(r: Release): { dir: string; node: string; red: string } {
  const dir = path.join(ROOT, '.test-tmp', r.dir);
  return {
    dir,
    node: r.nodeMajor ? path.join(dir, 'node_modules', 'node', 'bin', 'node') : process.execPath,
    red: path.join(dir, 'node_modules', 'node-red', 'red.js'),
  };
}

function installed(r: Release): string | null {
  const p = paths(r);
  try {
    const v = (JSON.parse(fs.readFileSync(path.join(p.dir, 'node_modules', 'node-red', 'package.json'), 'utf8')) as { version: string }).version;
    const node = execFileSync(p.node, ['--version'], { encoding: 'utf8' }).trim();
    return v === r.nodeRed && (!r.nodeMajor || node.startsWith(`v${r.nodeMajor}.`)) ? node : null;
  } catch {
    return null;
  }
}

/** Installs the release into .test-tmp/<dir> unless it is already there; returns `node --version`. */
export function ensureRelease(r: Release): string {
  const have = installed(r);
  if (have) return have;
  const p = paths(r);
  fs.mkdirSync(p.dir, { recursive: true });
  const pkgFile = path.join(p.dir, 'package.json');
  if (!fs.existsSync(pkgFile)) fs.writeFileSync(pkgFile, JSON.stringify({ name: `${r.dir}-cache`, private: true }, null, 2));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  env.PATH = (env.PATH ?? '').split(path.delimiter).filter((x) => !x.includes(`node_modules${path.sep}.bin`)).join(path.delimiter);
  const pkgs = [`node-red@${r.nodeRed}`, ...(r.nodeMajor ? [`node@${r.nodeMajor}`] : [])];
  execFileSync('npm', ['install', '--no-audit', '--no-fund', ...pkgs], { cwd: p.dir, env, stdio: 'pipe', timeout: 300000 });
  const now = installed(r);
  if (!now) throw new Error(`${pkgs.join(' ')} not usable in ${p.dir} after npm install`);
  return now;
}

export function mqttRoundTrip(url: string, topic: string): Promise<{ payload: string; userProperties: unknown }> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10000 });
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
        client.publish(topic, 'round trip', { qos: 1, properties: { userProperties: { test: 'release' } } });
      });
    });
  });
}

export function describeRelease(r: Release): void {
  const label = `Node-RED ${r.nodeRed} on Node ${r.nodeMajor ?? process.versions.node.split('.')[0]}`;
  describe(`e2e: ${label}`, function () {
    this.timeout(240000);
    let nr: NodeRedInstance | undefined;
    let sets: Map<string, NodeSetInfo>;
    let nodeVersion: string;
    const types = packageNodeTypes();

    before(async function () {
      this.timeout(420000); // the first run downloads the release (and Node) from npm: up to 300 s
      try {
        nodeVersion = ensureRelease(r);
      } catch (err) {
        // the release comes from the npm registry: without it, skip outside CI, fail in CI
        if (IN_CI) throw err;
        this.skip();
      }
      const p = paths(r);
      nr = await startNodeRed({ modules: await installPack(), nodeBin: p.node, redJs: p.red, startTimeoutMs: 90000 });
      sets = await ourNodeSets(nr);
    });

    after(async function () {
      if (nr) await nr.stop();
    });

    it(`runs ${label}`, async function () {
      if (r.nodeMajor) assert.ok(nodeVersion.startsWith(`v${r.nodeMajor}.`), nodeVersion);
      const settings = await nr!.getJson<{ version: string }>('/settings');
      assert.equal(settings.version.replace(/-git$/, ''), r.nodeRed);
      assert.match(nr!.log(), new RegExp(`Node\\.js {2}version: ${nodeVersion.replace(/\./g, '\\.')}`));
    });

    for (const type of types) {
      it(`loads the CommonJS entry of ${type} (${r.loader}): registered, enabled, no error`, function () {
        assert.equal(nodeTypeProblem(sets, type), null);
      });
    }

    it("deploys the demo flow; its embedded broker answers MQTT 5 over TCP and over WebSocket on Node-RED's server", async function () {
      const port = await freePort();
      const flow: FlowNode[] = relocatePorts(readExample('demo'), port);
      const log = await nr!.deploy(flow);
      assert.doesNotMatch(log, /Waiting for missing types|Unknown type|\[error\]/, log);
      const broker = flow.find((n) => n.type === 'mqtt5-broker');
      assert.ok(broker, 'the demo flow has no mqtt5-broker');
      assert.equal(broker.tcpPort, port);
      const viaTcp = await mqttRoundTrip(`mqtt://127.0.0.1:${port}`, 'release/tcp');
      assert.equal(viaTcp.payload, 'round trip');
      assert.deepEqual({ ...(viaTcp.userProperties as object) }, { test: 'release' });
      assert.equal(broker.wsEnabled, true, 'the demo broker should offer MQTT over WebSocket');
      const viaWs = await mqttRoundTrip(`ws://127.0.0.1:${nr!.port}${String(broker.wsPath)}`, 'release/ws');
      assert.equal(viaWs.payload, 'round trip');
      await nr!.deploy([]);
    });
  });
}
