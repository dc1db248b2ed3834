/**
 * One behaviour suite for the mqtt5 nodes, run against every broker we support (real Mosquitto,
 * our embedded broker over TCP, our embedded broker in-process). Each target file supplies a Target.
 */
import { strict as assert } from 'node:assert';
import type * as mqtt from 'mqtt';
import { delay, waitFor } from '../helpers/env';
import {
  collect,
  connectClient,
  endClient,
  helper,
  inject,
  load,
  observers,
  publish,
  subscribe,
  TAB,
  useHelper,
  waitConnected,
  waitStatus,
} from './mqtt5-harness';

export interface Target {
  /** URL for plain mqtt.js test clients (TCP). */
  url: string;
  /** mqtt5-client node fields that reach this broker (type and id are added by the suite). */
  client(extra?: Record<string, unknown>): Record<string, unknown>;
  /** Stop the broker (clients lose the connection). */
  stop(): Promise<void>;
  /** Start it again on the same address. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface AuthTarget extends Target {
  /** Valid user / password; the user may publish and subscribe on ok/#, never publish on secret/#. */
  user: string;
  password: string;
  /** Maximum packet size the broker advertises. */
  maxPacketSize: number;
  /** Does the broker refuse (SUBACK 0x87) a subscription the ACL denies? (Mosquitto grants it and filters.) */
  refusesSubscriptions: boolean;
}

export interface SuiteOptions {
  /** Create the plain target (anonymous, no limits). */
  make(ctx: Mocha.Context): Promise<Target>;
  /** Broker requiring user/password, ACL denying publish on secret/#, a small maximum packet size. */
  makeAuth(ctx: Mocha.Context): Promise<AuthTarget>;
}

let seq = 0;
const uniq = (p: string): string => `${p}${process.pid}_${++seq}`;

export function mqtt5Suite(name: string, opts: SuiteOptions): void {
  describe(name, function () {
    this.timeout(30000);
    let target: Target;
    const clients: mqtt.MqttClient[] = [];
    const client = async (o: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> => {
      const c = await connectClient(target.url, o);
      clients.push(c);
      return c;
    };
    const cfg = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      id,
      type: 'mqtt5-client',
      reconnectPeriod: 200,
      reconnectMax: 1000,
      ...target.client(extra),
    });

    useHelper();
    before(async function () {
      target = await opts.make(this);
    });
    after(async function () {
      await target?.close();
    });
    afterEach(async function () {
      await Promise.all(clients.splice(0).map(endClient));
    });

    it('out: node user properties are merged with msg.userProperties (msg wins), repeated keys and MQTT 5 properties are sent', async function () {
      const t = uniq('up/');
      const sub = await client();
      await subscribe(sub, `${t}/#`);
      const got: mqtt.IPublishPacket[] = [];
      sub.on('message', (_t, _p, packet) => got.push(packet));
      await load([
        TAB,
        cfg('c1'),
        {
          id: 'out', type: 'mqtt5-out', z: 'f1', client: 'c1', topic: `${t}/a`, qos: '1', retain: 'false',
          userProps: [{ key: 'site', value: 'node' }, { key: 'line', value: 'L1' }, { key: 'tag', value: 'x' }, { key: 'tag', value: 'y' }],
          contentType: 'application/json', contentTypeType: 'str', messageExpiry: '60', messageExpiryType: 'num',
          wires: [],
        },
        { id: 'done', type: 'complete', z: 'f1', scope: ['out'], uncaught: false, wires: [['completed']] },
        { id: 'completed', type: 'helper', z: 'f1' },
        ...observers(),
      ]);
      const completed = collect('completed');
      const caught = collect('caught');
      await waitConnected('c1');
      inject('out', { payload: { v: 1 }, userProperties: { site: 'msg', extra: ['e1', 'e2'], n: 5 }, correlationData: 'abc', responseTopic: `${t}/r` });
      await waitFor(() => got.length === 1 && completed.length === 1, 10000, 'message and completion');
      const p = got[0]!;
      assert.equal(p.payload.toString(), '{"v":1}');
      assert.deepEqual({ ...p.properties?.userProperties }, { site: 'msg', line: 'L1', tag: ['x', 'y'], extra: ['e1', 'e2'], n: '5' });
      assert.equal(p.properties?.contentType, 'application/json');
      assert.equal(p.properties?.messageExpiryInterval !== undefined && p.properties.messageExpiryInterval <= 60, true);
      assert.equal(p.properties?.responseTopic, `${t}/r`);
      assert.equal(Buffer.from(p.properties!.correlationData!).toString(), 'abc');
      assert.equal(caught.length, 0);
    });

    it('in: outputs user properties (repeated keys as arrays) and MQTT 5 properties; output formats', async function () {
      const t = uniq('in/');
      await load([
        TAB,
        cfg('c1'),
        { id: 'inAuto', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: `${t}/+`, qos: '1', datatype: 'auto', wires: [['h1']] },
        { id: 'b64', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: `${t}/bin`, qos: '0', datatype: 'base64', wires: [['h2']] },
        { id: 'h1', type: 'helper', z: 'f1' },
        { id: 'h2', type: 'helper', z: 'f1' },
        ...observers(),
      ]);
      const h1 = collect('h1');
      const h2 = collect('h2');
      const caught = collect('caught');
      await waitConnected('c1');
            await delay(300);
      const pub = await client();
      await publish(pub, `${t}/json`, '{"a":[1,2]}', {
        qos: 1,
        properties: {
          userProperties: { k: ['1', '2'], single: 'v' },
          contentType: 'application/json',
          responseTopic: `${t}/reply`,
          correlationData: Buffer.from('cid'),
          messageExpiryInterval: 300,
          payloadFormatIndicator: true,
        },
      });
      await publish(pub, `${t}/bin`, Buffer.from([0xff, 0x00, 0x10]), { qos: 1 });
      await publish(pub, `${t}/bad`, '{not json', { qos: 1, properties: { contentType: 'application/json' } });
      await waitFor(() => h1.length === 2 && h2.length === 1 && caught.length === 1, 10000, 'messages');
      const m = h1.find((x) => x.topic === `${t}/json`);
      assert.deepEqual(m.payload, { a: [1, 2] });
      assert.deepEqual(m.userProperties, { k: ['1', '2'], single: 'v' });
      assert.equal(m.contentType, 'application/json');
      assert.equal(m.responseTopic, `${t}/reply`);
      assert.ok(Buffer.isBuffer(m.correlationData));
      assert.equal(m.correlationData.toString(), 'cid');
      assert.ok(m.messageExpiryInterval > 0 && m.messageExpiryInterval <= 300);
      assert.equal(m.payloadFormatIndicator, true);
      assert.equal(m.qos, 1);
      assert.equal(m.retain, false);
      const bin = h1.find((x) => x.topic === `${t}/bin`);
      assert.ok(Buffer.isBuffer(bin.payload), 'non-UTF-8 bytes stay a Buffer in auto mode');
      assert.equal(h2[0].payload, Buffer.from([0xff, 0x00, 0x10]).toString('base64'));
      assert.match(caught[0].error.message, /not valid JSON/);
      assert.equal(caught[0].error.source.id, 'inAuto');
    });

    it('overlapping filters: every node gets each of its messages exactly once; identical filters share a subscription', async function () {
      const t = uniq('ov/');
      await load([
        TAB,
        cfg('c1'),
        { id: 'i1', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: `${t}/#`, qos: '1', wires: [['h1']] },
        { id: 'i2', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: `${t}/+/c`, qos: '1', wires: [['h2']] },
        { id: 'i3', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: `${t}/b/c`, qos: '0', wires: [['h3']] },
        { id: 'i4', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: `${t}/#`, qos: '1', wires: [['h4']] },
        { id: 'h1', type: 'helper', z: 'f1' },
        { id: 'h2', type: 'helper', z: 'f1' },
        { id: 'h3', type: 'helper', z: 'f1' },
        { id: 'h4', type: 'helper', z: 'f1' },
        ...observers(),
      ]);
      const [h1, h2, h3, h4] = ['h1', 'h2', 'h3', 'h4'].map(collect) as [any[], any[], any[], any[]];
      await waitConnected('c1');
      await delay(500);
      const pub = await client();
      await publish(pub, `${t}/b/c`, 'one');
      await publish(pub, `${t}/x/c`, 'two');
      await publish(pub, `${t}/b`, 'three');
      await waitFor(() => h1.length >= 3 && h4.length >= 3 && h2.length >= 2 && h3.length >= 1, 10000, 'deliveries');
      await delay(500); // would-be duplicates have time to arrive
      assert.deepEqual(h1.map((m) => m.payload).sort(), ['one', 'three', 'two']);
      assert.deepEqual(h4.map((m) => m.payload).sort(), ['one', 'three', 'two']);
      assert.deepEqual(h2.map((m) => m.payload).sort(), ['one', 'two']);
      assert.deepEqual(h3.map((m) => m.payload), ['one']);
    });

    it('shared subscription over two separate connections: each message reaches exactly one member', async function () {
      const t = uniq('sh/');
      await load([
        TAB,
        cfg('c1'),
        cfg('c2'),
        { id: 'i1', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: `${t}/jobs`, shareGroup: 'workers', qos: '1', wires: [['h1']] },
        { id: 'i2', type: 'mqtt5-in', z: 'f1', client: 'c2', topic: `${t}/jobs`, shareGroup: 'workers', qos: '1', wires: [['h2']] },
        ...observers(),
        { id: 'h1', type: 'helper', z: 'f1' },
        { id: 'h2', type: 'helper', z: 'f1' },
      ]);
      const h1 = collect('h1');
      const h2 = collect('h2');
      await waitConnected('c1', 'c2');
      await delay(500);
      const pub = await client();
      const N = 20;
      for (let i = 0; i < N; i++) await publish(pub, `${t}/jobs`, String(i));
      await waitFor(() => h1.length + h2.length >= N, 10000, 'all jobs');
      await delay(300);
      const all = [...h1, ...h2].map((m) => Number(m.payload)).sort((a, b) => a - b);
      assert.deepEqual(all, Array.from({ length: N }, (_, i) => i), 'each job exactly once');
      assert.ok(h1.length > 0 && h2.length > 0, `both members got work (${h1.length}/${h2.length})`);
    });

    it('request/response: mqtt5-request gets the reply from a responder flow (mqtt5-in → mqtt5-out in reply mode); timeout is an error', async function () {
      const t = uniq('rr/');
      await load([
        TAB,
        cfg('c1'),
        { id: 'req', type: 'mqtt5-request', z: 'f1', client: 'c1', topic: `${t}/svc`, qos: '1', timeout: '2', wires: [['replies']] },
        { id: 'svc', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: `${t}/svc`, qos: '1', wires: [['answer']] },
        { id: 'answer', type: 'mqtt5-out', z: 'f1', client: 'c1', topic: '', qos: '1', replyMode: true,
          userProps: [{ key: 'answered-by', value: 'svc' }], wires: [] },
        { id: 'replies', type: 'helper', z: 'f1' },
        ...observers(),
      ]);
      const replies = collect('replies');
      const caught = collect('caught');
      await waitConnected('c1');
      await delay(500);
      inject('req', { payload: { q: 42 }, topic: 'ignored', correlationData: 12, responseTopic: 'not/used' });
      await waitFor(() => replies.length === 1 || caught.length > 0, 10000, 'reply');
      assert.deepEqual(caught.map((c) => c.error?.message), []);
      assert.deepEqual(replies[0].payload, { q: 42 });
      assert.deepEqual(replies[0].response.userProperties, { 'answered-by': 'svc' });
      assert.equal(caught.length, 0, JSON.stringify(caught.map((c) => c.error?.message)));
    });

    it('request timeout raises an error a Catch node sees', async function () {
      const t = uniq('rt/');
      await load([
        TAB,
        cfg('c1'),
        { id: 'req', type: 'mqtt5-request', z: 'f1', client: 'c1', topic: '', qos: '1', timeout: '1', wires: [['replies']] },
        { id: 'replies', type: 'helper', z: 'f1' },
        ...observers(),
      ]);
      const caught = collect('caught');
      await waitConnected('c1');
      await delay(300);
      inject('req', { payload: 'x', topic: `${t}/nobody` });
      await waitFor(() => caught.length === 1, 10000, 'timeout error');
      assert.match(caught[0].error.message, /no reply on ".*" within 1 s/);
    });

    it('malformed msg values produce precise errors that a Catch node sees', async function () {
      const t = uniq('bad/');
      await load([
        TAB,
        cfg('c1'),
        { id: 'out', type: 'mqtt5-out', z: 'f1', client: 'c1', topic: '', qos: '', retain: '', wires: [] },
        { id: 'dyn', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: '', inputs: 1, wires: [['h']] },
        { id: 'h', type: 'helper', z: 'f1' },
        ...observers(),
      ]);
      const caught = collect('caught');
      await waitConnected('c1');
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{ topic: `${t}/+`, payload: 'x' }, /wildcard/],
        [{ topic: `${t}/#`, payload: 'x' }, /wildcard/],
        [{ payload: 'x' }, /topic is empty/],
        [{ topic: `${t}/a` }, /msg.payload is undefined/],
        [{ topic: `${t}/a`, payload: 'x', qos: 3 }, /msg.qos must be 0, 1 or 2/],
        [{ topic: `${t}/a`, payload: 'x', userProperties: 'nope' }, /msg.userProperties must be an object/],
        [{ topic: `${t}/a`, payload: 'x', userProperties: { a: { b: 1 } } }, /msg.userProperties.a must be a string/],
        [{ topic: `${t}/a`, payload: 'x', messageExpiryInterval: -1 }, /message expiry interval/],
        [{ topic: `${t}/a`, payload: 'x', correlationData: 12 }, /correlationData must be a Buffer or string/],
        [{ topic: `${t}/a`, payload: 'x', responseTopic: 'a/#' }, /response topic: .*wildcard/],
      ];
      for (const [m] of cases) inject('out', m);
      inject('dyn', { action: 'subscribe', topic: 'a/#/b' });
      inject('dyn', { action: 'subscribe', topic: { topic: 'a', shareGroup: 'g/1' } });
      inject('dyn', { action: 'explode', topic: 'a' });
      await waitFor(() => caught.length === cases.length + 3, 10000, 'all errors caught');
      const msgs = caught.map((c) => String(c.error.message));
      for (const [, re] of cases) assert.ok(msgs.some((x) => re.test(x)), `an error matching ${re} in ${JSON.stringify(msgs)}`);
      assert.ok(msgs.some((x) => /# must be a whole level and the last one/.test(x)));
      assert.ok(msgs.some((x) => /group "g\/1" must not contain/.test(x)));
      assert.ok(msgs.some((x) => /msg.action must be/.test(x)));
      // dynamic subscribe / getSubscriptions / unsubscribe
      const dynStatus = collect('statuses');
      inject('dyn', { action: 'subscribe', topic: [{ topic: `${t}/d/#`, qos: 1 }, `${t}/e`] });
      await waitStatus(dynStatus, /^connected · 2 subscriptions$/, 5000);
      inject('dyn', { action: 'getSubscriptions' });
      const h = collect('h');
      await waitFor(() => h.length === 1, 5000, 'subscriptions list');
      assert.deepEqual(h[0].payload.map((s: any) => s.topic).sort(), [`${t}/d/#`, `${t}/e`]);
      await delay(300);
      const pub = await client();
      await publish(pub, `${t}/d/1`, 'd1');
      await waitFor(() => h.length === 2, 5000, 'dynamic delivery');
      assert.equal(h[1].payload, 'd1');
      inject('dyn', { action: 'unsubscribe', topic: true });
      inject('dyn', { action: 'getSubscriptions' });
      await waitFor(() => h.length === 3, 5000, 'empty list');
      assert.deepEqual(h[2].payload, []);
    });

    it('offline queue: QoS 1/2 published while the broker is down are sent after it returns, nothing lost; QoS 0 drops are reported', async function () {
      const t = uniq('q/');
      await load([
        TAB,
        cfg('c1', { queueSize: 50 }),
        { id: 'out', type: 'mqtt5-out', z: 'f1', client: 'c1', topic: `${t}/m`, qos: '', retain: 'false', wires: [] },
        { id: 'in', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: `${t}/m`, qos: '2', wires: [['h']] },
        { id: 'h', type: 'helper', z: 'f1' },
        { id: 'done', type: 'complete', z: 'f1', scope: ['out'], uncaught: false, wires: [['completed']] },
        { id: 'completed', type: 'helper', z: 'f1' },
        ...observers(),
      ]);
      const h = collect('h');
      const completed = collect('completed');
      const caught = collect('caught');
      const statuses = collect('statuses');
      await waitConnected('c1');
      await target.stop();
      await waitStatus(statuses, /^(disconnected|connecting)/, 15000);
      const warned: string[] = [];
      const outNode = helper.getNode('out');
      const origWarn = outNode.warn.bind(outNode);
      outNode.warn = (w: string) => {
        warned.push(String(w));
        origWarn(w);
      };
      for (let i = 0; i < 6; i++) inject('out', { payload: `m${i}`, qos: i % 2 ? 2 : 1 });
      inject('out', { payload: 'lost', qos: 0 });
      const s = await waitStatus(statuses, /6 queued · 1 QoS 0 dropped/, 10000);
      assert.equal(s.status.fill, s.status.fill === 'yellow' ? 'yellow' : 'red');
      assert.equal(completed.length, 1, 'only the QoS 0 drop completed (with a warning) while offline');
      assert.ok(warned.some((w) => /QoS 0 message dropped/.test(w)));
      await target.start();
      await waitFor(() => h.length === 6 && completed.length === 7, 20000, 'queued messages delivered');
      // MQTT orders messages per QoS level: QoS 1 and QoS 2 each keep their publish order
      assert.deepEqual(h.filter((m) => m.qos === 1).map((m) => m.payload), ['m0', 'm2', 'm4']);
      assert.deepEqual(h.filter((m) => m.qos === 2).map((m) => m.payload), ['m1', 'm3', 'm5']);
      assert.equal(caught.length, 0);
      await waitStatus(statuses, /^connected · 1 QoS 0 dropped$/, 10000);
    });

    it('bad credentials are shown in the status; not authorized publish and oversize messages raise errors with reason codes', async function () {
      const auth = await opts.makeAuth(this);
      try {
        await load(
          [
            TAB,
            { id: 'bad', type: 'mqtt5-client', reconnectPeriod: 200, reconnectMax: 1000, ...auth.client() },
            { id: 'good', type: 'mqtt5-client', reconnectPeriod: 200, reconnectMax: 1000, ...auth.client() },
            { id: 'o1', type: 'mqtt5-out', z: 'f1', client: 'bad', topic: 'ok/x', qos: '1', wires: [] },
            { id: 'o2', type: 'mqtt5-out', z: 'f1', client: 'good', topic: '', qos: '1', wires: [] },
            { id: 'i2', type: 'mqtt5-in', z: 'f1', client: 'good', topic: 'nope/#', qos: '1', wires: [] },
            ...observers(),
          ],
          { bad: { user: auth.user, password: 'wrong' }, good: { user: auth.user, password: auth.password } },
        );
        const statuses = collect('statuses');
        const caught = collect('caught');
        const st = await waitFor(
          () => statuses.find((m) => m.status.source.id === 'o1' && /bad user name or password|not authorized/.test(m.status.text)),
          15000,
          'bad credentials in the status',
        );
        assert.match(st.status.text, /^(disconnected|connecting)/);
        await waitConnected('good');
        if (auth.refusesSubscriptions) {
          // a refused subscription: error (Catch) and red status on the in node
          await waitFor(() => caught.some((c) => c.error.source.id === 'i2'), 10000, 'subscription refused');
          assert.match(caught.find((c) => c.error.source.id === 'i2').error.message, /subscribe to "nope\/#" refused: 0x87 not authorized/);
          const red = await waitStatus(statuses, /refused: 0x87/, 10000);
          assert.equal(red.status.fill, 'red');
          caught.length = 0;
        }
        inject('o2', { topic: 'secret/x', payload: 'no' });
        await waitFor(() => caught.length === 1, 10000, 'not authorized');
        assert.match(caught[0].error.message, /0x87 not authorized/);
        inject('o2', { topic: 'ok/big', payload: Buffer.alloc(auth.maxPacketSize + 10) });
        await waitFor(() => caught.length === 2, 10000, 'oversize');
        assert.match(caught[1].error.message, /larger than the broker's Maximum Packet Size of \d+ bytes \(0x95 packet too large\)/);
      } finally {
        await helper.unload();
        await auth.close();
      }
    });
  });
}
