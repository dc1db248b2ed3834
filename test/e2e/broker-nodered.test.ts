/**
 * mqtt5-broker in a real `node-red` process: deploys through the admin API with clients connected
 * (mqtt.js and mosquitto_sub), a config change restarting cleanly, credentials kept out of the flow
 * file, and durability across `kill -9` (QoS 1 in order, QoS 2 exactly once, retained kept).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { delay, freePort, requireTool, ROOT, waitFor } from '../helpers/env';
import { startNodeRed, type NodeRedProcess } from './broker-helpers';

type FlowNode = Record<string, unknown>;

function connect(url: string, opts: IClientOptions, into: MqttClient[]): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10000, ...opts });
    into.push(c);
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

/** `p`, or a precise error after `ms` (instead of a bare mocha timeout). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_r, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/** Resolves when an MQTT client gets a CONNACK on `port` (the broker starts asynchronously after a deploy). */
function mqttReady(port: number, timeoutMs = 30000): Promise<unknown> {
  return waitFor(
    async () => {
      const probe = mqtt.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 2000 });
      const ok = await new Promise<boolean>((resolve) => {
        probe.once('connect', () => resolve(true));
        probe.once('error', () => resolve(false));
        probe.once('close', () => resolve(false));
      });
      probe.end(true);
      return ok;
    },
    timeoutMs,
    `broker on port ${port}`,
  );
}

describe('mqtt5-broker in a real Node-RED process', function () {
  this.timeout(120000);
  let nr: NodeRedProcess | undefined;
  let port = 0;
  let flows: FlowNode[] = [];
  const clients: MqttClient[] = [];
  const procs: ChildProcess[] = [];
  let userDir = '';

  const broker = (extra: FlowNode = {}): FlowNode[] => [
    { id: 'tab1', type: 'tab', label: 'broker' },
    {
      id: 'bk1',
      type: 'mqtt5-broker',
      z: 'tab1',
      name: 'hub',
      x: 200,
      y: 100,
      tcpPort: port,
      tcpHost: '127.0.0.1',
      allowAnonymous: true,
      persistence: 'file',
      flush: 'always',
      sysInterval: 0,
      maxQueued: 1000,
      wires: [[], []],
      ...extra,
    },
  ];

  before(async function () {
    port = await freePort();
    nr = await startNodeRed();
    userDir = nr.userDir;
    flows = broker();
    await nr.deploy(flows, 'full');
    await mqttReady(port);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && nr) process.stdout.write(`--- node-red output (last 4000 chars) ---\n${nr.log().slice(-4000)}\n`);
  });

  after(async function () {
    for (const c of clients.splice(0)) c.end(true);
    for (const p of procs.splice(0)) if (p.exitCode === null) p.kill('SIGTERM');
    await nr?.stop();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('deploys through the admin API; user passwords never reach flows.json', async function () {
    const withCreds = flows.map((n) => (n.id === 'bk1' ? { ...n, credentials: { users: JSON.stringify([{ username: 'dev', password: 's3cret-pw' }]) } } : n));
    await nr!.deploy(withCreds, 'full');
    await mqttReady(port);
    const flowFile = fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8');
    assert.ok(flowFile.includes('mqtt5-broker'));
    assert.ok(!flowFile.includes('s3cret-pw'), 'password in flows.json');
    const credFile = fs.readFileSync(path.join(userDir, 'flows_cred.json'), 'utf8');
    assert.ok(!credFile.includes('s3cret-pw'), 'credentials are encrypted');
    const c = await connect(`mqtt://127.0.0.1:${port}`, { username: 'dev', password: 's3cret-pw' }, clients);
    assert.ok(c.connected);
    await assert.rejects(connect(`mqtt://127.0.0.1:${port}`, { username: 'dev', password: 'wrong' }, clients), (e: any) => e.code === 0x86);
    c.end();
  });

  it('a full deploy with the same config drops no client and no message (mqtt.js + mosquitto_sub)', async function () {
    const subBin = requireTool(this, 'mosquitto_sub', 'apt-get install mosquitto-clients');
    const sub = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'keep-sub' }, clients);
    const pub = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'keep-pub' }, clients);
    let closes = 0;
    sub.on('close', () => closes++);
    pub.on('close', () => closes++);
    const got: number[] = [];
    sub.on('message', (t, p) => {
      if (t !== 'keep/probe') got.push(Number(p.toString()));
    });
    await sub.subscribeAsync('keep/#', { qos: 1 });

    const ms = spawn(subBin, ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv5', '-i', 'keep-mosq', '-t', 'keep/#', '-q', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(ms);
    let mosqOut = '';
    ms.stdout?.on('data', (d: Buffer) => (mosqOut += d.toString()));
    await waitFor(async () => {
      await pub.publishAsync('keep/probe', '-1', { qos: 1 });
      return mosqOut.includes('-1');
    }, 10000, 'mosquitto_sub to subscribe');

    let n = 0;
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        await pub.publishAsync(`keep/${n}`, String(n), { qos: 1 });
        n++;
        await delay(10);
      }
    })();
    await waitFor(() => got.length >= 10, 10000, 'traffic before the deploy');
    const current = await nr!.getFlows();
    const t0 = Date.now();
    await nr!.deploy(current, 'full');
    const deployMs = Date.now() - t0;
    const atDeploy = n;
    await waitFor(() => n >= atDeploy + 20, 15000, 'traffic after the deploy');
    stop = true;
    await loop;
    await waitFor(() => got.length >= n, 10000, `all ${n} messages at mqtt.js`);
    assert.deepEqual(got, Array.from({ length: n }, (_v, i) => i), 'every message, in order, once');
    await waitFor(() => mosqOut.trim().split('\n').filter((l) => l !== '-1').length >= n, 10000, 'all messages at mosquitto_sub');
    const mosqNums = mosqOut.trim().split('\n').map(Number).filter((v) => v >= 0);
    assert.deepEqual(mosqNums, Array.from({ length: n }, (_v, i) => i));
    assert.equal(closes, 0, 'no client was disconnected by the deploy');
    assert.equal(ms.exitCode, null, 'mosquitto_sub still connected');
    assert.doesNotMatch(nr!.log(), /Close timed out|EADDRINUSE/);
    process.stdout.write(`      (full deploy took ${deployMs} ms with ${n} QoS 1 messages flowing)\n`);
    ms.kill('SIGTERM');
    sub.end();
    pub.end();
  });

  it('a config change restarts the broker cleanly: 0x8B, same port reused, clients reconnect', async function () {
    const c = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'restart-me', reconnectPeriod: 300 }, clients);
    const reason = new Promise<number>((resolve) => c.once('disconnect', (p: any) => resolve(p.reasonCode)));
    flows = broker({ maxQueued: 500 });
    const t0 = Date.now();
    await nr!.deploy(flows, 'full');
    const deployMs = Date.now() - t0;
    assert.equal(await reason, 0x8b);
    await waitFor(() => c.connected, 15000, 'client to reconnect after the restart');
    const got = new Promise<string>((resolve) => c.once('message', (_t, p) => resolve(p.toString())));
    await c.subscribeAsync('after/restart', { qos: 1 });
    await c.publishAsync('after/restart', 'ok', { qos: 1 });
    assert.equal(await got, 'ok');
    assert.doesNotMatch(nr!.log(), /Close timed out|EADDRINUSE/);
    process.stdout.write(`      (restarting deploy took ${deployMs} ms)\n`);
    c.end(true);
  });

  it('durable storage: acknowledged QoS 1/2 messages and retained survive kill -9, in order, QoS 2 once', async function () {
    const sessionOpts: IClientOptions = { clientId: 'dur-sub', clean: false, properties: { sessionExpiryInterval: 3600 } };
    const s1 = await connect(`mqtt://127.0.0.1:${port}`, sessionOpts, clients);
    await within(s1.subscribeAsync({ 'dur/q1': { qos: 1 }, 'dur/q2': { qos: 2 } }), 10000, 'subscribe');
    await within(s1.endAsync(), 10000, 'disconnect');

    const pub = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'dur-pub' }, clients);
    const N1 = 40;
    const N2 = 10;
    for (let i = 0; i < N1; i++) await within(pub.publishAsync('dur/q1', `a${i}`, { qos: 1 }), 10000, `QoS 1 publish a${i}`);
    for (let i = 0; i < N2; i++) await within(pub.publishAsync('dur/q2', `b${i}`, { qos: 2 }), 10000, `QoS 2 publish b${i}`);
    await within(pub.publishAsync('dur/retained', 'kept', { qos: 1, retain: true }), 10000, 'retained publish');

    await nr!.kill9();
    for (const c of clients.splice(0)) c.end(true);
    const t0 = Date.now();
    nr = await startNodeRed({ userDir });
    await mqttReady(port);
    const restartMs = Date.now() - t0;

    const q1: string[] = [];
    const q2: string[] = [];
    const s2 = mqtt.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0, ...sessionOpts });
    clients.push(s2);
    s2.on('message', (t, p) => (t === 'dur/q1' ? q1 : q2).push(p.toString()));
    const connack = await within(
      new Promise<any>((resolve, reject) => {
        s2.once('connect', resolve);
        s2.once('error', reject);
      }),
      10000,
      'reconnect of the persistent session',
    );
    assert.equal(connack.sessionPresent, true, 'session restored from disk');
    await waitFor(() => q1.length >= N1 && q2.length >= N2, 15000, `queued messages (${q1.length}/${N1}, ${q2.length}/${N2})`);
    await delay(300); // a duplicate would arrive now
    // QoS 1: every acknowledged message, first deliveries in publish order
    const firstSeen = q1.filter((v, i) => q1.indexOf(v) === i);
    assert.deepEqual(firstSeen, Array.from({ length: N1 }, (_v, i) => `a${i}`));
    // QoS 2: exactly once, in order
    assert.deepEqual(q2, Array.from({ length: N2 }, (_v, i) => `b${i}`));

    const r = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'retained-reader' }, clients);
    const ret = new Promise<string>((resolve) => r.once('message', (_t, p) => resolve(p.toString())));
    await within(r.subscribeAsync('dur/retained', { qos: 1 }), 10000, 'subscribe to the retained topic');
    assert.equal(await within(ret, 10000, 'retained message'), 'kept');
    assert.ok(fs.existsSync(path.join(userDir, 'mqtt5-hub', 'bk1')), 'store in <userDir>/mqtt5-hub/<node id>');
    process.stdout.write(`      (node-red restart to broker ready: ${restartMs} ms)\n`);
  });

  it('corrupt or half-written store files after a crash are skipped with a warning, never a crash loop', async function () {
    const dir = path.join(userDir, 'mqtt5-hub', 'bk1');
    await nr!.kill9();
    for (const c of clients.splice(0)) c.end(true);
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.bin'));
    assert.ok(files.length > 0, `store files in ${dir}`);
    // a torn record at the end of every log / snapshot, and garbage in the middle of one
    for (const f of files) fs.appendFileSync(path.join(dir, f), Buffer.from([0x00, 0x00, 0x01, 0x00, 0xde, 0xad, 0xbe]));
    const victim = path.join(dir, files[0]!);
    const buf = fs.readFileSync(victim);
    if (buf.length > 64) {
      buf.fill(0xff, Math.floor(buf.length / 2), Math.floor(buf.length / 2) + 8);
      fs.writeFileSync(victim, buf);
    }
    nr = await startNodeRed({ userDir });
    await mqttReady(port);
    const c = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'after-corruption' }, clients);
    const got = new Promise<string>((resolve) => c.once('message', (_t, p) => resolve(p.toString())));
    await within(c.subscribeAsync('still/works', { qos: 1 }), 10000, 'subscribe');
    await within(c.publishAsync('still/works', 'yes', { qos: 1 }), 10000, 'publish');
    assert.equal(await within(got, 10000, 'message'), 'yes');
    await waitFor(() => /\[warn\] \[mqtt5-broker:hub\].*(corrupt|torn|truncat|skip)/i.test(nr!.log()), 10000, 'a store warning in the log');
    assert.equal(nr!.proc.exitCode, null, 'node-red still running');
  });

  it('the example flows deploy and serve (ports relocated to free ones)', async function () {
    const port2 = await freePort();
    const load = (name: string, p: number): FlowNode[] =>
      (JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', `${name}.json`), 'utf8')) as FlowNode[]).map((n) =>
        n.type === 'mqtt5-broker' ? { ...n, tcpPort: p, tcpHost: '127.0.0.1' } : n,
      );
    await nr!.deploy([...load('mqtt5-broker-events-and-queries', port), ...load('mqtt5-broker-secure-durable', port2)], 'full');
    await mqttReady(port);
    const open = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'example-1' }, clients);
    assert.ok(open.connected);
    // the secure example refuses anonymous clients, on TCP and on Node-RED's own server at /mqtt
    await waitFor(async () => {
      try {
        await connect(`mqtt://127.0.0.1:${port2}`, { connectTimeout: 2000 }, clients);
        return false;
      } catch (e) {
        return (e as { code?: number }).code === 0x87 || (e as { code?: number }).code === 0x86;
      }
    }, 20000, 'the secure example to refuse anonymous clients');
    await assert.rejects(connect(`ws://127.0.0.1:${nr!.port}/mqtt`, {}, clients), (e: any) => e.code === 0x87 || e.code === 0x86);
    assert.doesNotMatch(nr!.log(), /\[error\]/);
  });

  it('Node-RED shuts down promptly with brokers running (no "Close timed out")', async function () {
    const c = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'at-shutdown' }, clients);
    const reason = new Promise<number>((resolve) => c.once('disconnect', (p: any) => resolve(p.reasonCode)));
    const t0 = Date.now();
    await nr!.stop();
    const ms = Date.now() - t0;
    assert.equal(await within(reason, 5000, 'DISCONNECT at shutdown'), 0x8b);
    assert.ok(ms < 15000, `shutdown took ${ms} ms`);
    assert.doesNotMatch(nr!.log(), /Close timed out/);
    // durable stores were closed (flushed, lock released) before the process exited
    const hub = path.join(userDir, 'mqtt5-hub');
    const stores = fs.readdirSync(hub);
    assert.ok(stores.includes('b7e1000000000002'), 'the durable example store exists');
    for (const d of stores) assert.equal(fs.existsSync(path.join(hub, d, 'lock')), false, `lock left in ${d}`);
    process.stdout.write(`      (shutdown took ${ms} ms)\n`);
  });
});
