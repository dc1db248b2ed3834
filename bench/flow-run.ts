/**
 * One run of `npm run bench:flow` (scripts/bench-flow.js starts one process per run):
 *
 *   external publisher (mqtt.js, TCP) → broker → Node-RED in-node → Node-RED out-node → broker
 *   → external subscriber (mqtt.js, TCP)
 *
 * Scenarios:
 *   ours-inprocess  our broker (src/broker) embedded in the Node-RED process; mqtt5-in / mqtt5-out
 *                   reach it in-process through the broker registry (as with an mqtt5-broker node)
 *   ours-tcp        the same broker; mqtt5-client connects over TCP loopback
 *   core-aedes      Aedes 1.2.0 embedded in the Node-RED process; Node-RED's core mqtt in / mqtt out
 *
 * Everything runs in this one process (the real Node-RED runtime, embedded with RED.init/RED.start,
 * editor off), so each scenario gets the same CPU budget. QoS 1 end to end; N messages; prints one
 * JSON line.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- the BUILT CommonJS node files are loaded as Node-RED loads them */
import * as net from 'node:net';
import * as path from 'node:path';
import * as mqtt from 'mqtt';

const ROOT = path.resolve(__dirname, '..');
const scenario = process.argv[2] ?? 'ours-inprocess';
const N = Number(process.argv[3] ?? 20000);
const PAYLOAD = Buffer.from(JSON.stringify({ sensor: 'bench', value: 21.5, unit: 'C', seq: 0 }));

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';

const RED: any = require('node-red');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function waitFor(fn: () => boolean, ms: number, what: string | (() => string)): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function connect(url: string): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    // MQTT 3.1.1 for the external clients: Aedes has no MQTT 5
    const c = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

async function main(): Promise<void> {
  const port = await freePort();
  const url = `mqtt://127.0.0.1:${port}`;
  let stopBroker: () => Promise<void>;
  let flow: unknown[];
  let ready: () => boolean;

  if (scenario === 'core-aedes') {
    const { Aedes } = (await import('aedes')) as any;
    const aedes = await Aedes.createBroker();
    const server = net.createServer(aedes.handle);
    server.on('connection', (s) => s.setNoDelay(true));
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    stopBroker = () =>
      new Promise<void>((r) => {
        server.close();
        aedes.close(() => r());
      });
    flow = [
      { id: 'tab', type: 'tab', label: 'bench' },
      { id: 'cfg', type: 'mqtt-broker', broker: '127.0.0.1', port: String(port), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true },
      { id: 'in', type: 'mqtt in', z: 'tab', topic: 'bench/in', qos: '1', datatype: 'buffer', broker: 'cfg', nl: false, rap: true, rh: 0, inputs: 0, wires: [['out']] },
      { id: 'out', type: 'mqtt out', z: 'tab', topic: 'bench/out', qos: '1', retain: 'false', broker: 'cfg', wires: [] },
    ];
    ready = () => !!RED.nodes.getNode('cfg')?.connected;
  } else {
    const { createBroker } = require(path.join(ROOT, 'nodes', 'lib', 'broker', 'index.js'));
    const { registerBroker } = require(path.join(ROOT, 'nodes', 'lib', 'nodes', 'shared', 'broker-registry.js'));
    // queues large enough that no scenario drops messages (Aedes has no queue limit)
    const broker = createBroker({ sysInterval: 0, limits: { maxQueued: 1000000 }, listeners: [{ type: 'tcp', port, host: '127.0.0.1' }] });
    await broker.listen();
    registerBroker('bench-broker', broker);
    stopBroker = () => broker.close();
    const client =
      scenario === 'ours-tcp'
        ? { brokerType: 'external', broker: url, protocolVersion: '5' }
        : { brokerType: 'embedded', embeddedBroker: 'bench-broker' };
    flow = [
      { id: 'tab', type: 'tab', label: 'bench' },
      { id: 'cfg', type: 'mqtt5-client', ...client },
      { id: 'in', type: 'mqtt5-in', z: 'tab', client: 'cfg', topic: 'bench/in', qos: '1', datatype: 'buffer', rap: true, wires: [['out']] },
      { id: 'out', type: 'mqtt5-out', z: 'tab', client: 'cfg', topic: 'bench/out', qos: '1', retain: 'false', wires: [] },
    ];
    ready = () => !!RED.nodes.getNode('cfg')?.controller?.connected;
  }

  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt5hub-benchflow-'));
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flow));
  RED.init(http.createServer(), {
    userDir,
    flowFile: 'flows.json',
    nodesDir: [path.join(ROOT, 'nodes')], // the built mqtt5 nodes (Node-RED skips nodes/lib)
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    credentialSecret: false,
    logging: { console: { level: process.env.BENCH_LOG ?? 'error', metrics: false, audit: false } },
    editorTheme: { tours: false },
  });
  await RED.start();
  await waitFor(ready, 15000, 'the flow to connect');
  await new Promise((r) => setTimeout(r, 300)); // subscriptions settle

  const sub = await connect(url);
  await new Promise<void>((res, rej) => sub.subscribe('bench/out', { qos: 1 }, (e) => (e ? rej(e) : res())));
  const pub = await connect(url);
  let received = 0;
  sub.on('message', () => {
    received++;
  });

  const send = async (count: number): Promise<void> => {
    // at most 1000 unacknowledged publishes, like a well-behaved device fleet
    let inflight = 0;
    for (let i = 0; i < count; i++) {
      while (inflight >= 1000) await new Promise((r) => setImmediate(r));
      inflight++;
      pub.publish('bench/in', PAYLOAD, { qos: 1 }, () => {
        inflight--;
      });
    }
  };

  // warm-up
  await send(1000);
  await waitFor(() => received >= 1000, 60000, 'warm-up messages');
  await new Promise((r) => setTimeout(r, 200));
  received = 0;

  const t0 = process.hrtime.bigint();
  await send(N);
  await waitFor(() => received >= N, 120000, () => `${N} messages (got ${received})`);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;

  process.stdout.write(JSON.stringify({ scenario, n: N, ms: Math.round(ms), rate: Math.round((N / ms) * 1000) }) + '\n');
  pub.end(true);
  sub.end(true);
  await RED.stop();
  await stopBroker();
  fs.rmSync(userDir, { recursive: true, force: true });
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`bench flow-run ${scenario} failed: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
