/**
 * thingsboard-telemetry in a real Node-RED runtime (node-red-node-test-helper, the BUILT node):
 * configuration, msg overrides, errors reaching a real catch node, status, split outputs,
 * gateway connect emission, and the shipped example flows.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { delay, ROOT, tmpDir, waitFor } from '../helpers/env';
import { tbStore, packetSize } from '../thingsboard/tb-checker';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const helper = require('node-red-node-test-helper');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const tbNode = require(path.join(ROOT, 'nodes', 'thingsboard-telemetry.js'));

type Msg = Record<string, any>;

const T = 'v1/devices/me/telemetry';

/** Collects what a node receives. */
function collect(id: string): Msg[] {
  const got: Msg[] = [];
  helper.getNode(id).on('input', (m: Msg) => got.push(m));
  return got;
}

/** Calls of a spied Node.prototype method made on node `id`. */
function callsOn(id: string, method: 'status' | 'warn' | 'error'): any[][] {
  const n = helper.getNode(id);
  const spy = n[method] as any;
  return (spy.getCalls?.() ?? []).filter((c: any) => c.thisValue === n).map((c: any) => c.args);
}

function lastStatus(id: string): { fill?: string; shape?: string; text?: string } {
  const calls = callsOn(id, 'status');
  return calls.length ? calls[calls.length - 1]![0] : {};
}

function load(flow: Msg[]): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      helper.load(tbNode, flow, () => resolve());
    } catch (e) {
      reject(e as Error);
    }
  });
}

/** formatter tb → out (helper); catch (all) → caught (helper) */
function flow(config: Msg): Msg[] {
  return [
    { id: 'f1', type: 'tab', label: 'tb' },
    { id: 'tb', z: 'f1', type: 'thingsboard-telemetry', name: 'formatter', x: 100, y: 100, wires: [['out']], ...config },
    { id: 'out', z: 'f1', type: 'helper', x: 300, y: 100 },
    { id: 'c1', z: 'f1', type: 'catch', scope: null, uncaught: false, x: 100, y: 200, wires: [['caught']] },
    { id: 'caught', z: 'f1', type: 'helper', x: 300, y: 200 },
  ];
}

describe('thingsboard-telemetry node (Node-RED runtime)', function () {
  this.timeout(30000);
  let previousSettings: unknown;

  before(() => {
    previousSettings = helper._settings;
    helper.init(require.resolve('node-red'), { userDir: tmpDir('mqtt5hub-tb-') });
  });
  after(() => {
    // other suites initialise the (shared) helper at load time: give them their settings back
    if (previousSettings) helper._settings = previousSettings;
  });
  afterEach(() => helper.unload());

  it('loads with its defaults and publishes device telemetry, keeping other msg properties', async () => {
    await load(flow({}));
    const tb = helper.getNode('tb');
    assert.equal(tb.type, 'thingsboard-telemetry');
    const out = collect('out');
    tb.receive({ payload: { temperature: 21.5, count: 3 }, timestamp: 1700000000000, _extra: 'kept', qos: 1 });
    const m = await waitFor(() => out[0], 5000, 'output');
    assert.equal(m.topic, T);
    assert.equal(m.payload, '{"ts":1700000000000,"values":{"temperature":21.5,"count":3}}');
    assert.equal(typeof m.payload, 'string');
    assert.equal(m._extra, 'kept');
    assert.equal(m.qos, 1);
    await waitFor(() => lastStatus('tb').fill === 'green', 5000, 'green status');
    assert.equal(lastStatus('tb').shape, 'dot');
    // the test helper's RED._ returns catalogue keys; the catalogue itself is checked below
    assert.equal(lastStatus('tb').text, 'thingsboard-telemetry.status.sent');
  });

  it('uses the configured key, decimal keys and timestamp unit', async () => {
    await load(flow({ key: 'temp', decimal: 'keys', decimalKeys: 'temp', timestampUnit: 's' }));
    const out = collect('out');
    helper.getNode('tb').receive({ payload: 20, timestamp: 1700000000 });
    const m = await waitFor(() => out[0], 5000, 'output');
    assert.equal(m.payload, '{"ts":1700000000000,"values":{"temp":20.0}}');
    const stored = tbStore(m.topic, m.payload).rows[0];
    assert.equal(stored?.type, 'DOUBLE');
  });

  it('msg.thingsboard overrides mode and key; msg.key and msg.topic name single values', async () => {
    await load(flow({}));
    const out = collect('out');
    const tb = helper.getNode('tb');
    tb.receive({ payload: '1.2.3', thingsboard: { mode: 'attributes', key: 'firmware' } });
    tb.receive({ payload: true, key: 'door' });
    tb.receive({ payload: 7, topic: 'plant/line1/speed' });
    await waitFor(() => out.length === 3, 5000, 'three outputs');
    assert.deepEqual(out.map((m) => [m.topic, m.payload]), [
      ['v1/devices/me/attributes', '{"firmware":"1.2.3"}'],
      [T, '{"door":true}'],
      [T, '{"speed":7}'],
    ]);
  });

  it('an input error reaches the catch node once, with the message; red status; no output', async () => {
    await load(flow({}));
    const out = collect('out');
    const caught = collect('caught');
    helper.getNode('tb').receive({ payload: { '': 1 }, marker: 42 });
    const c = await waitFor(() => caught[0], 5000, 'caught error');
    assert.match(c.error.message, /empty key/);
    assert.equal(c.error.source.id, 'tb');
    assert.equal(c.marker, 42);
    await waitFor(() => lastStatus('tb').fill === 'red', 5000, 'red status');
    assert.equal(lastStatus('tb').text, 'thingsboard-telemetry.status.error');
    await delay(200);
    assert.equal(caught.length, 1, 'reported exactly once');
    assert.equal(out.length, 0, 'nothing sent');
    // the node keeps working after an error
    helper.getNode('tb').receive({ payload: { ok: 1 } });
    await waitFor(() => out.length === 1, 5000, 'output after error');
    assert.equal(lastStatus('tb').fill, 'green');
  });

  it('invalid msg.thingsboard overrides and invalid values in "error" mode are caught', async () => {
    await load(flow({ invalid: 'error' }));
    const caught = collect('caught');
    const tb = helper.getNode('tb');
    tb.receive({ payload: { a: 1 }, thingsboard: { mode: 'rpc' } });
    tb.receive({ payload: { a: null } });
    tb.receive({ payload: 'x'.repeat(70000), key: 'k' });
    await waitFor(() => caught.length === 3, 5000, 'three caught errors');
    assert.match(caught[0]!.error.message, /msg\.thingsboard: mode must be one of/);
    assert.match(caught[1]!.error.message, /msg\.payload\.a is null/);
    assert.match(caught[2]!.error.message, /limit is 65504 bytes/);
  });

  it('dropped values: output, a warning and a yellow status', async () => {
    await load(flow({}));
    const out = collect('out');
    helper.getNode('tb').receive({ payload: { a: 1, b: NaN, c: null } });
    const m = await waitFor(() => out[0], 5000, 'output');
    assert.equal(m.payload, '{"a":1}');
    await waitFor(() => callsOn('tb', 'warn').length > 0, 5000, 'warning');
    assert.match(String(callsOn('tb', 'warn')[0]![0]), /payload\.b is NaN[\s\S]*payload\.c is null/);
    assert.equal(lastStatus('tb').fill, 'yellow');
  });

  it('an invalid configuration gives a red ring and an error for every message', async () => {
    await load(flow({ maxPacketSize: 12 }));
    const caught = collect('caught');
    assert.equal(lastStatus('tb').fill, 'red');
    assert.equal(lastStatus('tb').shape, 'ring');
    assert.match(String(callsOn('tb', 'error')[0]?.[0]), /maxPacketSize must be an integer from 256/);
    helper.getNode('tb').receive({ payload: { a: 1 } });
    const c = await waitFor(() => caught[0], 5000, 'caught');
    assert.match(c.error.message, /maxPacketSize/);
  });

  it('splits large input into several valid messages within the packet limit, in order', async () => {
    await load(flow({ maxPacketSize: 512 }));
    const out = collect('out');
    const values: Record<string, string> = {};
    for (let i = 0; i < 30; i++) values[`sensor_${i}`] = `value-${'x'.repeat(i * 3)}`;
    helper.getNode('tb').receive({ payload: { ts: 1700000000000, values }, contentType: 'application/json' });
    await waitFor(() => lastStatus('tb').fill === 'green', 5000, 'status');
    await waitFor(() => out.reduce((a, m) => a + tbStore(m.topic, m.payload).rows.length, 0) === 30, 5000, 'all parts');
    await delay(100);
    assert.ok(out.length > 1, 'split');
    const keys: string[] = [];
    for (const m of out) {
      // contentType (1 + 2 + 16 bytes) is an MQTT 5 property the mqtt out node will add
      assert.ok(packetSize(m.topic, m.payload, 19) <= 512, `packet ${packetSize(m.topic, m.payload, 19)}`);
      const s = tbStore(m.topic, m.payload);
      assert.ok(s.rows.every((r) => r.ts === 1700000000000n));
      keys.push(...s.rows.map((r) => r.key));
      assert.equal(m.contentType, 'application/json');
    }
    assert.deepEqual(keys, Object.keys(values));
    assert.notEqual(out[0], out[1], 'separate message objects');
  });

  it('gateway: connect before the first data of each device, on the same output; msg.reset forgets', async () => {
    await load(flow({ mode: 'gateway-telemetry', deviceType: 'pump' }));
    const out = collect('out');
    const tb = helper.getNode('tb');
    tb.receive({ payload: { rpm: 1200 }, device: 'Pump 1', timestamp: 1000 });
    tb.receive({ payload: { rpm: 1300 }, device: 'Pump 1', timestamp: 2000 });
    tb.receive({ payload: { rpm: 900 }, device: 'Pump 2', timestamp: 3000, deviceType: 'ignored: the node sets one' });
    await waitFor(() => out.length === 5, 5000, 'five messages');
    assert.deepEqual(out.map((m) => [m.topic, m.payload]), [
      ['v1/gateway/connect', '{"device":"Pump 1","type":"pump"}'],
      ['v1/gateway/telemetry', '{"Pump 1":[{"ts":1000,"values":{"rpm":1200}}]}'],
      ['v1/gateway/telemetry', '{"Pump 1":[{"ts":2000,"values":{"rpm":1300}}]}'],
      ['v1/gateway/connect', '{"device":"Pump 2","type":"pump"}'],
      ['v1/gateway/telemetry', '{"Pump 2":[{"ts":3000,"values":{"rpm":900}}]}'],
    ]);
    tb.receive({ reset: true });
    await waitFor(() => lastStatus('tb').fill === 'grey', 5000, 'reset status');
    tb.receive({ payload: { rpm: 1 }, device: 'Pump 1', timestamp: 4000 });
    await waitFor(() => out.length === 7, 5000, 'connect again after reset');
    assert.equal(out[5]!.topic, 'v1/gateway/connect');
  });

  it('gateway without a device name is caught; msg.device supplies it', async () => {
    await load(flow({ mode: 'gateway-attributes', gatewayConnect: false }));
    const out = collect('out');
    const caught = collect('caught');
    const tb = helper.getNode('tb');
    tb.receive({ payload: { fw: '2.0' } });
    tb.receive({ payload: { fw: '2.0' }, device: 'Meter A' });
    await waitFor(() => caught.length === 1 && out.length === 1, 5000, 'one error, one output');
    assert.match(caught[0]!.error.message, /device name/);
    assert.deepEqual([out[0]!.topic, out[0]!.payload], ['v1/gateway/attributes', '{"Meter A":{"fw":"2.0"}}']);
  });

  it('"keep" numeric strings warns at deploy that only JSON_TYPE_CAST_ENABLED=false keeps them', async () => {
    await load(flow({ numericStrings: 'keep' }));
    assert.equal(callsOn('tb', 'warn').length, 1);
  });
});

describe('thingsboard-telemetry editor and catalogues', () => {
  const dir = path.join(ROOT, 'src', 'nodes', 'thingsboard-telemetry');
  const catalogue = (lang: string): Msg => JSON.parse(fs.readFileSync(path.join(dir, 'locales', `${lang}.json`), 'utf8'));
  const lookup = (cat: Msg, key: string): unknown => key.split('.').reduce((o: any, k) => (o == null ? undefined : o[k]), cat);
  const used = (): string[] => {
    const keys = new Set<string>();
    const runtime = fs.readFileSync(path.join(dir, 'index.ts'), 'utf8');
    for (const m of runtime.matchAll(/\bt\('([\w.-]+)'/g)) keys.add(`thingsboard-telemetry.${m[1]}`);
    const html = fs.readFileSync(path.join(dir, 'template.html'), 'utf8');
    for (const m of html.matchAll(/data-i18n="(?:\[[a-z]+\])?([\w.-]+)"/g)) keys.add(m[1]!);
    const editor = fs.readFileSync(path.join(dir, 'editor.js'), 'utf8');
    for (const m of editor.matchAll(/this\._\('([\w.-]+)'/g)) if (!m[1]!.endsWith('.')) keys.add(m[1]!); // '….mode.' + mode: added below
    for (const mode of ['telemetry', 'attributes', 'gateway-telemetry', 'gateway-attributes']) keys.add(`thingsboard-telemetry.mode.${mode}`);
    return [...keys];
  };

  it('every string the editor and runtime use exists in en-US and de, with the same placeholders', () => {
    const keys = used();
    assert.ok(keys.length > 40, `found ${keys.length} keys`);
    const en = catalogue('en-US'); const de = catalogue('de');
    for (const k of keys) {
      const e = lookup(en, k); const d = lookup(de, k);
      assert.equal(typeof e, 'string', `en-US lacks ${k}`);
      assert.equal(typeof d, 'string', `de lacks ${k}`);
      const vars = (s: string): string[] => [...s.matchAll(/__(\w+)__/g)].map((m) => m[1]!).sort();
      assert.deepEqual(vars(d as string), vars(e as string), `placeholders of ${k}`);
    }
  });

  it('the built editor file registers the literal type, with template and help sections', () => {
    const html = fs.readFileSync(path.join(ROOT, 'nodes', 'thingsboard-telemetry.html'), 'utf8');
    assert.match(html, /RED\.nodes\.registerType\('thingsboard-telemetry'/);
    assert.match(html, /data-template-name="thingsboard-telemetry"/);
    assert.match(html, /data-help-name="thingsboard-telemetry"/);
    for (const h of ['Inputs', 'Outputs', 'Details', 'References']) assert.match(html, new RegExp(`<h3>${h}</h3>`));
    assert.ok(fs.existsSync(path.join(ROOT, 'nodes', 'icons', 'thingsboard.svg')));
  });
});

describe('thingsboard example flows deploy on Node-RED and run', function () {
  this.timeout(30000);
  let previousSettings: unknown;
  before(() => {
    previousSettings = helper._settings;
    helper.init(require.resolve('node-red'), { userDir: tmpDir('mqtt5hub-tbex-') });
  });
  after(() => {
    if (previousSettings) helper._settings = previousSettings;
  });
  afterEach(() => helper.unload());

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const core = (f: string): unknown => require(require.resolve(`@node-red/nodes/core/${f}`));
  for (const file of ['thingsboard-telemetry.json', 'thingsboard-gateway.json']) {
    it(`examples/${file}: deploys unedited; every inject gives valid ThingsBoard publishes; mqtt out disabled`, async () => {
      const flowJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', file), 'utf8')) as Msg[];
      const mqttOut = flowJson.filter((n) => n.type === 'mqtt out');
      assert.equal(mqttOut.length, 1);
      assert.equal(mqttOut[0]!.d, true, 'mqtt out is disabled');
      const broker = flowJson.find((n) => n.type === 'mqtt-broker');
      assert.equal(broker?.broker, 'thingsboard.example.com');
      assert.equal(mqttOut[0]!.broker, broker?.id);

      await new Promise<void>((resolve) => helper.load(
        [tbNode, core('common/20-inject.js'), core('common/21-debug.js'), core('common/90-comment.js'), core('network/10-mqtt.js')],
        flowJson, () => resolve()));
      const tbDef = flowJson.find((n) => n.type === 'thingsboard-telemetry')!;
      const tb = helper.getNode(tbDef.id);
      assert.ok(tb, 'formatter deployed');
      assert.equal(helper.getNode(mqttOut[0]!.id), null, 'disabled mqtt out not started');
      const sent: Msg[] = [];
      tb.on('call:send', (call: any) => sent.push(...[call.args[0]].flat(2).filter(Boolean)));
      const injects = flowJson.filter((n) => n.type === 'inject');
      for (const inj of injects) helper.getNode(inj.id).receive({});
      await waitFor(() => sent.length >= injects.length - (file.includes('gateway') ? 1 : 0), 5000, 'outputs of every inject');
      await delay(200);
      assert.deepEqual(callsOn(tbDef.id, 'error'), [], 'no errors');
      for (const m of sent) {
        const s = tbStore(m.topic, m.payload);
        assert.deepEqual(s.problems, []);
      }
      const topics = new Set(sent.map((m) => m.topic));
      if (file.includes('gateway')) {
        for (const t of ['v1/gateway/connect', 'v1/gateway/telemetry', 'v1/gateway/attributes']) assert.ok(topics.has(t), t);
      } else {
        for (const t of [T, 'v1/devices/me/attributes']) assert.ok(topics.has(t), t);
      }
    });
  }
});
