/** The mqtt5 node suite against a real Mosquitto; plus MQTT 3.1.1 (no subscription identifiers). */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { delay, requireTool, tmpDir, waitFor } from '../helpers/env';
import { MosquittoInstance, startMosquitto } from '../helpers/mosquitto';
import { collect, connectClient, endClient, load, observers, publish, TAB, useHelper, waitConnected, waitStatus } from './mqtt5-harness';
import { AuthTarget, mqtt5Suite, Target } from './mqtt5-suite';

async function mosquittoTarget(ctx: Mocha.Context, setup?: (dir: string) => string[]): Promise<Target> {
  const dir = tmpDir('mosq-files-');
  fs.chmodSync(dir, 0o755); // mosquitto drops root privileges and must read these files
  const extra = setup ? setup(dir) : [];
  let m = await startMosquitto(ctx, { extraConfig: extra });
  const port = m.port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    client: (x = {}) => ({ brokerType: 'external', broker: `mqtt://127.0.0.1:${port}`, protocolVersion: '5', ...x }),
    stop: () => m.stop(),
    start: async () => {
      m = await startMosquitto(ctx, { port, extraConfig: extra });
    },
    close: async () => {
      await m.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

mqtt5Suite('mqtt5 nodes × Mosquitto', {
  make: (ctx) => mosquittoTarget(ctx),
  async makeAuth(ctx): Promise<AuthTarget> {
    const passwd = requireTool(ctx, 'mosquitto_passwd', 'apt-get install mosquitto');
    const files = (dir: string): string[] => {
      const pw = path.join(dir, 'passwd');
      const acl = path.join(dir, 'acl');
      fs.writeFileSync(pw, '');
      execFileSync(passwd, ['-b', pw, 'alice', 's3cret']);
      fs.writeFileSync(acl, 'user alice\ntopic readwrite ok/#\ntopic read secret/#\n');
      fs.chmodSync(pw, 0o644);
      fs.chmodSync(acl, 0o644);
      return ['allow_anonymous false', `password_file ${pw}`, `acl_file ${acl}`, 'max_packet_size 4096'];
    };
    const t = await mosquittoTarget(ctx, files);
    return { ...t, user: 'alice', password: 's3cret', maxPacketSize: 4096, refusesSubscriptions: false };
  },
});

describe('mqtt5 nodes × Mosquitto, MQTT 3.1.1 (no subscription identifiers)', function () {
  this.timeout(30000);
  let m: MosquittoInstance;
  useHelper();
  before(async function () {
    m = await startMosquitto(this);
  });
  after(async () => {
    await m?.stop();
  });

  it('overlapping filters are matched locally: each node once per message', async function () {
    await load([
      TAB,
      { id: 'c1', type: 'mqtt5-client', brokerType: 'external', broker: m.url, protocolVersion: '4', reconnectPeriod: 200 },
      { id: 'i1', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: 'v3/#', qos: '1', wires: [['h1']] },
      { id: 'i2', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: 'v3/+/c', qos: '1', wires: [['h2']] },
      { id: 'i3', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: 'v3/#', qos: '0', wires: [['h3']] },
      { id: 'h1', type: 'helper', z: 'f1' },
      { id: 'h2', type: 'helper', z: 'f1' },
      { id: 'h3', type: 'helper', z: 'f1' },
      ...observers(),
    ]);
    const [h1, h2, h3] = ['h1', 'h2', 'h3'].map(collect) as [any[], any[], any[]];
    await waitConnected('c1');
    await delay(300);
    const pub = await connectClient(m.url, { protocolVersion: 4 });
    try {
      await publish(pub, 'v3/b/c', 'one');
      await publish(pub, 'v3/b', 'two');
      await waitFor(() => h1.length >= 2 && h2.length >= 1 && h3.length >= 2, 10000, 'deliveries');
      await delay(400);
      assert.deepEqual(h1.map((x) => x.payload), ['one', 'two']);
      assert.deepEqual(h2.map((x) => x.payload), ['one']);
      assert.deepEqual(h3.map((x) => x.payload), ['one', 'two']);
      assert.equal(h1[0].userProperties, undefined);
    } finally {
      await endClient(pub);
    }
  });

  it('connection refused (DNS / closed port) shows the reason in the status', async function () {
    await load([
      TAB,
      { id: 'c1', type: 'mqtt5-client', brokerType: 'external', broker: 'mqtt://127.0.0.1:1', reconnectPeriod: 200 },
      { id: 'o', type: 'mqtt5-out', z: 'f1', client: 'c1', topic: 'x', wires: [] },
      ...observers(),
    ]);
    const st = await waitStatus(collect('statuses'), /connection refused \(ECONNREFUSED/);
    assert.equal(st.status.fill === 'red' || st.status.fill === 'yellow', true);
  });
});
