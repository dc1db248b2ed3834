/**
 * Shared harness for the mqtt5 node tests: loads the BUILT nodes (nodes/*.js) plus Node-RED's
 * catch / status / complete nodes into node-red-node-test-helper, and collects what flows out.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- the BUILT CommonJS node files are loaded as Node-RED loads them */
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import { ROOT, waitFor } from '../helpers/env';

export const helper: any = require('node-red-node-test-helper');
helper.init(require.resolve('node-red'));

const core = (p: string): unknown => require(path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), p));
export const NODES = [
  require(path.join(ROOT, 'nodes', 'mqtt5-client.js')),
  require(path.join(ROOT, 'nodes', 'mqtt5-in.js')),
  require(path.join(ROOT, 'nodes', 'mqtt5-out.js')),
  require(path.join(ROOT, 'nodes', 'mqtt5-request.js')),
  core('core/common/25-catch.js'),
  core('core/common/25-status.js'),
  core('core/common/24-complete.js'),
];

export function startServer(): Promise<void> {
  return new Promise((r) => helper.startServer(r));
}
export function stopServer(): Promise<void> {
  return new Promise((r) => helper.stopServer(r));
}

/**
 * The mocha hooks every node suite shares: the helper's HTTP server for the whole describe, the
 * flow unloaded after each test. Call it first in the describe, so that these hooks run before the
 * suite's own (and the server stops before the suite's brokers do).
 */
export function useHelper(): void {
  before(startServer);
  after(stopServer);
  afterEach(() => helper.unload());
}

/** Load a flow; resolves when every node is created. */
export async function load(flow: unknown[], credentials: Record<string, unknown> = {}): Promise<void> {
  await helper.load(NODES, flow, credentials);
}

/** Collect every msg a helper node receives. */
export function collect(id: string): any[] {
  const out: any[] = [];
  const n = helper.getNode(id);
  if (!n) throw new Error(`no node ${id}`);
  n.on('input', (m: any) => out.push(m));
  return out;
}

/** Wait until a collector (of status-node output) shows a status whose text matches `re`. */
export function waitStatus(statuses: any[], re: RegExp, timeoutMs = 15000, from = 0): Promise<any> {
  return waitFor(
    () => statuses.slice(from).find((m) => re.test(String(m.status?.text ?? ''))),
    timeoutMs,
    `status matching ${re} (seen: ${statuses.map((m) => m.status?.text).slice(-5).join(' | ')})`,
  );
}

export function connectClient(url: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10000, ...opts });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

export function endClient(c: mqtt.MqttClient | undefined): Promise<void> {
  return new Promise((r) => (c ? c.end(true, {}, () => r()) : r()));
}

export function subscribe(c: mqtt.MqttClient, topic: string, qos: 0 | 1 | 2 = 1): Promise<void> {
  return new Promise((resolve, reject) => c.subscribe(topic, { qos }, (e) => (e ? reject(e) : resolve())));
}

export function publish(c: mqtt.MqttClient, topic: string, payload: string | Buffer, opts: mqtt.IClientPublishOptions = {}): Promise<void> {
  return new Promise((resolve, reject) => c.publish(topic, payload, { qos: 1, ...opts }, (e) => (e ? reject(e) : resolve())));
}

/** Inject a msg into a node of the loaded flow. */
export function inject(id: string, msg: Record<string, unknown>): void {
  const n = helper.getNode(id);
  if (!n) throw new Error(`no node ${id}`);
  n.receive(msg);
}

/** The part of a flow every test shares: catch-all → helper, status-all → helper. */
export function observers(): unknown[] {
  return [
    { id: 'catchAll', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'f1' },
    { id: 'statusAll', type: 'status', z: 'f1', scope: null, wires: [['statuses']] },
    { id: 'statuses', type: 'helper', z: 'f1' },
  ];
}

export const TAB = { id: 'f1', type: 'tab', label: 'test' };

/** Wait until the given mqtt5-client config nodes are connected and every subscription is acknowledged. */
export function waitConnected(...ids: string[]): Promise<unknown> {
  return waitFor(() => ids.every((id) => helper.getNode(id)?.controller?.settled), 15000, `${ids.join(', ')} connected`);
}
