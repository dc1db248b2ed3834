/**
 * Fuzz test: at least 100,000 random and mutated packets into a live broker, most through
 * handleStream() over in-memory duplex pairs (fast), a share over real TCP. Afterwards the broker
 * must still serve a well-behaved mqtt.js client, no exception may have escaped, every fuzz
 * connection must be gone, and the heap must not have grown beyond a generous bound.
 *
 * Reproduce a failure with the printed seed: FUZZ_SEED=<seed> node scripts/test.js --no-build test/broker/fuzz.test.ts
 */
import { strict as assert } from 'node:assert';
import type { Duplex } from 'node:stream';
import * as net from 'node:net';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as mqttPacket from 'mqtt-packet';
import mqtt from 'mqtt';
import { createBroker } from '../../src/broker';
import type { Broker } from '../../src/broker/types';
import { packetReader } from '../../bench/packets';
import { delay, freePort, seededRandom, waitFor } from '../helpers/env';
import { duplexPair } from './helpers';

// ------------------------------------------------------------------------------------------
// seeded randomness (seededRandom, mulberry32): the same seed gives the same packets

class Rand {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  str(max: number): string {
    const alphabet = 'abcxyz019/+#$ _-\u00e9\u0000\ud83d\ude00';
    let s = '';
    const n = this.int(max + 1);
    for (let i = 0; i < n; i++) s += this.pick([...alphabet]);
    return s;
  }
}

// ------------------------------------------------------------------------------------------
// packet generators

type Version = 3 | 4 | 5;

const TOPICS = ['a', 'a/b', 'fuzz/t', 'fuzz/+', 'fuzz/#', '#', '+/x', '', '/', 'a//b', '$SYS/x', 'a/#/b', 'sport+', '$share/g/fuzz/t', '$share/g', '$share//t', '$share/g/'];

function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let d = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) d |= 0x80;
    out.push(d);
  } while (n > 0);
  return Buffer.from(out);
}

/** Splits a framed packet into header byte, body; re-frames a body. */
function bodyOf(pkt: Buffer): Buffer {
  let i = 1;
  while (i < pkt.length && pkt[i] & 0x80) i++;
  return pkt.subarray(i + 1);
}
function frame(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first]), remainingLength(body.length), body]);
}

function gen(packet: Record<string, unknown>, version: Version): Buffer | null {
  try {
    return mqttPacket.generate(packet as unknown as mqttPacket.Packet, { protocolVersion: version });
  } catch {
    return null; // mqtt-packet refused these fields: not a packet
  }
}

function randomProperties(r: Rand, kind: 'publish' | 'connect' | 'subscribe' | 'other'): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  if (r.chance(0.4)) p.userProperties = { [r.str(5) || 'k']: r.chance(0.3) ? [r.str(4), r.str(4)] : r.str(6) };
  if (kind === 'publish') {
    if (r.chance(0.3)) p.payloadFormatIndicator = r.chance(0.5);
    if (r.chance(0.3)) p.messageExpiryInterval = r.pick([0, 1, 60, 0xffffffff]);
    if (r.chance(0.3)) p.topicAlias = r.pick([0, 1, 2, 10, 65535]);
    if (r.chance(0.2)) p.responseTopic = r.pick(TOPICS);
    if (r.chance(0.2)) p.correlationData = r.bytes(r.int(8));
    if (r.chance(0.1)) p.subscriptionIdentifier = r.pick([1, 268435455]);
    if (r.chance(0.2)) p.contentType = r.str(8);
  } else if (kind === 'connect') {
    if (r.chance(0.3)) p.sessionExpiryInterval = r.pick([0, 1, 0xffffffff]);
    if (r.chance(0.3)) p.receiveMaximum = r.pick([1, 2, 100, 65535]);
    if (r.chance(0.3)) p.maximumPacketSize = r.pick([20, 100, 1000, 268435455]);
    if (r.chance(0.3)) p.topicAliasMaximum = r.pick([0, 1, 10]);
    if (r.chance(0.2)) p.requestResponseInformation = r.chance(0.5);
    if (r.chance(0.2)) p.requestProblemInformation = r.chance(0.5);
    if (r.chance(0.1)) p.authenticationMethod = r.str(6);
  } else if (kind === 'subscribe') {
    if (r.chance(0.3)) p.subscriptionIdentifier = r.pick([1, 7, 268435455]);
  } else if (r.chance(0.3)) p.reasonString = r.str(8);
  return p;
}

function connectPacket(r: Rand, version: Version, clientId: string): Buffer | null {
  const pkt: Record<string, unknown> = {
    cmd: 'connect',
    protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: version,
    clean: true, // fuzz sessions never outlive their connection: the heap check stays meaningful
    clientId,
    keepalive: r.pick([0, 1, 60, 65535]),
  };
  if (r.chance(0.2)) pkt.username = r.str(6);
  if (r.chance(0.1)) pkt.password = r.bytes(r.int(6));
  if (r.chance(0.2)) {
    pkt.will = {
      topic: r.pick(TOPICS), payload: r.bytes(r.int(16)), qos: r.int(3), retain: r.chance(0.3),
      properties: version === 5 && r.chance(0.5) ? { willDelayInterval: r.pick([0, 1]), userProperties: { w: 'x' } } : undefined,
    };
  }
  if (version === 5) {
    const props = randomProperties(r, 'connect');
    // a session that outlives its connection gets an id from a small pool: sessions stay bounded
    if (props.sessionExpiryInterval) pkt.clientId = `fz-persist-${r.int(8)}`;
    pkt.properties = props;
  }
  return gen(pkt, version);
}

/** A well-formed packet of any type (some are server-only or otherwise forbidden from a client). */
function validPacket(r: Rand, version: Version): Buffer | null {
  const v5 = version === 5;
  const messageId = r.pick([0, 1, 2, r.range(1, 65535)]);
  switch (r.int(14)) {
    case 0: case 1: case 2: case 3: {
      const qos = r.int(3);
      return gen({
        cmd: 'publish', topic: r.chance(0.1) ? '' : r.pick(TOPICS), payload: r.bytes(r.int(64)), qos, retain: r.chance(0.2), dup: r.chance(0.1),
        messageId: qos ? messageId || 1 : undefined, properties: v5 ? randomProperties(r, 'publish') : undefined,
      }, version);
    }
    case 4: case 5: {
      const subs = Array.from({ length: r.range(1, 3) }, () => ({
        topic: r.pick(TOPICS), qos: r.int(3), nl: v5 && r.chance(0.3), rap: v5 && r.chance(0.3), rh: v5 ? r.int(3) : 0,
      }));
      return gen({ cmd: 'subscribe', messageId: messageId || 1, subscriptions: subs, properties: v5 ? randomProperties(r, 'subscribe') : undefined }, version);
    }
    case 6:
      return gen({ cmd: 'unsubscribe', messageId: messageId || 1, unsubscriptions: [r.pick(TOPICS)], properties: v5 ? randomProperties(r, 'other') : undefined }, version);
    case 7:
      return gen({ cmd: r.pick(['puback', 'pubrec', 'pubrel', 'pubcomp']), messageId, reasonCode: v5 ? r.pick([0, 0x10, 0x80, 0x92]) : undefined, properties: v5 && r.chance(0.3) ? randomProperties(r, 'other') : undefined }, version);
    case 8:
      return gen({ cmd: 'pingreq' }, version);
    case 9:
      return gen({ cmd: 'disconnect', reasonCode: v5 ? r.pick([0, 4, 0x80]) : undefined, properties: v5 && r.chance(0.5) ? { sessionExpiryInterval: r.pick([0, 10]) } : undefined }, version);
    case 10:
      return gen({ cmd: 'auth', reasonCode: r.pick([0, 0x18, 0x19]), properties: { authenticationMethod: r.str(4), authenticationData: r.bytes(4) } }, 5);
    case 11:
      return connectPacket(r, version, `fz-again-${r.int(4)}`); // a second CONNECT is a protocol error
    case 12:
      // packets only a server may send
      return gen(r.pick([
        { cmd: 'connack', returnCode: 0, reasonCode: 0, sessionPresent: false },
        { cmd: 'suback', messageId: 1, granted: [0] },
        { cmd: 'unsuback', messageId: 1, granted: [0] },
        { cmd: 'pingresp' },
      ]), version);
    default:
      return gen({ cmd: 'publish', topic: 'fuzz/t', payload: r.bytes(r.int(2000)), qos: r.int(2), messageId: 7 }, version);
  }
}

/** Offset, inside the body, of the property-length varint of a v5 packet (or -1). */
function propertyOffset(pkt: Buffer): number {
  const type = pkt[0] >> 4;
  const body = bodyOf(pkt);
  if (type === 1) return 10; // CONNECT: name(6) level flags keepalive(2)
  if (type === 3) {
    const tl = body.length >= 2 ? body.readUInt16BE(0) : 0;
    return 2 + tl + ((pkt[0] >> 1) & 3 ? 2 : 0);
  }
  if (type === 8 || type === 10) return 2; // SUBSCRIBE / UNSUBSCRIBE: after the packet id
  if (type >= 4 && type <= 7) return 3; // acks: id + reason code
  if (type === 14 || type === 15) return 1; // DISCONNECT / AUTH: reason code
  return -1;
}

function mutate(r: Rand, pkt: Buffer): Buffer {
  const b = Buffer.from(pkt);
  switch (r.int(9)) {
    case 0: { // flip bits
      for (let k = r.range(1, 3); k > 0; k--) b[r.int(b.length)] ^= 1 << r.int(8);
      return b;
    }
    case 1: { // set a byte to an interesting value
      b[r.int(b.length)] = r.pick([0, 0x7f, 0x80, 0xff, r.int(256)]);
      return b;
    }
    case 2: // truncate (the next packet then starts mid-packet)
      return b.subarray(0, r.int(b.length));
    case 3: // append garbage inside the frame: remaining length grows
      return frame(b[0], Buffer.concat([bodyOf(b), r.bytes(r.range(1, 16))]));
    case 4: { // remaining length says more (or less) than there is
      const body = bodyOf(b);
      const len = Math.max(0, body.length + r.pick([-3, -1, 1, 5, 1000]));
      return Buffer.concat([Buffer.from([b[0]]), remainingLength(len), body]);
    }
    case 5: // malformed remaining length: five continuation bytes
      return Buffer.concat([Buffer.from([b[0], 0xff, 0xff, 0xff, 0xff, 0x7f]), bodyOf(b)]);
    case 6: { // truncated properties, framing kept consistent
      const off = propertyOffset(b);
      const body = bodyOf(b);
      if (off < 0 || off >= body.length) return b.subarray(0, r.int(b.length));
      return frame(b[0], body.subarray(0, off + r.range(1, Math.max(1, body.length - off - 1))));
    }
    case 7: { // property length larger than the packet
      const off = propertyOffset(b);
      const body = Buffer.from(bodyOf(b));
      if (off < 0 || off >= body.length) return b;
      body[off] = r.pick([0x7f, 0x40, body.length & 0x7f]);
      return frame(b[0], body);
    }
    default: { // wrong fixed-header flags
      b[0] = (b[0] & 0xf0) | r.int(16);
      return b;
    }
  }
}

/** One fuzz connection: the bytes to send and how many packets they count for. */
function fuzzConnection(r: Rand, id: number): { chunks: Buffer[]; packets: number } {
  const chunks: Buffer[] = [];
  let packets = 0;
  const kind = r.int(10);
  const version: Version = r.pick([3, 4, 5, 5, 5]);
  if (kind === 0) {
    // pure garbage
    for (let k = r.range(1, 8); k > 0; k--, packets++) chunks.push(r.bytes(r.range(1, 48)));
    return { chunks, packets };
  }
  if (kind === 1) {
    // valid first byte, broken or oversized remaining length, little data
    const first = (r.range(1, 15) << 4) | r.pick([0, 2, r.int(16)]);
    const len = r.pick([
      Buffer.from([0xff, 0xff, 0xff, 0x7f]), // 268,435,455: the maximum
      Buffer.from([0x80, 0x80, 0x80, 0x80, 0x01]), // five bytes: malformed
      Buffer.from([0xff]), // unfinished varint
      remainingLength(r.range(2 * 1024 * 1024, 200 * 1024 * 1024)), // over the maximum packet size
      remainingLength(r.int(200)),
    ]);
    chunks.push(Buffer.concat([Buffer.from([first]), len, r.bytes(r.int(32))]));
    return { chunks, packets: 1 };
  }
  if (kind === 2) {
    // a mutated CONNECT
    const c = connectPacket(r, version, `fz-${id}`);
    if (c) chunks.push(mutate(r, c));
    return { chunks, packets: 1 };
  }
  // a valid CONNECT followed by valid and mutated packets
  const clientId = r.chance(0.1) ? `fz-shared-${r.int(3)}` : r.chance(0.1) ? '' : `fz-${id}`;
  const c = connectPacket(r, version, clientId);
  if (!c) return { chunks, packets };
  chunks.push(c);
  packets++;
  for (let k = r.range(1, 12); k > 0; k--) {
    const p = validPacket(r, version);
    if (!p) continue;
    chunks.push(r.chance(0.35) ? mutate(r, p) : p);
    packets++;
  }
  if (r.chance(0.3)) {
    chunks.push(r.bytes(r.range(1, 16)));
    packets++;
  }
  return { chunks, packets };
}

// ------------------------------------------------------------------------------------------
// transports


function settle(stream: Duplex, brokerSide: Duplex, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      stream.destroy();
      brokerSide.destroy();
      resolve();
    };
    const t = setTimeout(done, ms);
    brokerSide.once('close', done);
  });
}

/** Packets the broker sent back, by type (CONNACK = 2, PUBACK = 4, SUBACK = 9, DISCONNECT = 14, ...). */
const responses = new Array<number>(16).fill(0);

async function fuzzOverStreams(broker: Broker, r: Rand, targetPackets: number, batch: number): Promise<number> {
  let fed = 0;
  let id = 0;
  while (fed < targetPackets) {
    const pending: Promise<void>[] = [];
    for (let k = 0; k < batch && fed < targetPackets; k++) {
      const { chunks, packets } = fuzzConnection(r, id++);
      fed += packets;
      const [client, server] = duplexPair({ allowHalfOpen: false }); // like a server socket
      // the broker's answers must be well-framed MQTT (packetReader throws otherwise: escapes, fails the test)
      client.on('data', packetReader((first) => responses[first >> 4]++));
      client.on('error', () => {});
      server.on('error', () => {});
      broker.handleStream(server, { listener: 'fuzz', remoteAddress: '127.0.0.1' });
      // split the bytes at random points, as TCP may
      const all = Buffer.concat(chunks);
      let at = 0;
      while (at < all.length) {
        const n = r.chance(0.7) ? all.length - at : r.range(1, all.length - at);
        client.write(all.subarray(at, at + n));
        at += n;
      }
      client.end();
      pending.push(settle(client, server, 1500));
    }
    await Promise.all(pending);
  }
  return fed;
}

async function fuzzOverTcp(port: number, r: Rand, targetPackets: number, batch: number): Promise<number> {
  let fed = 0;
  let id = 1_000_000;
  while (fed < targetPackets) {
    const pending: Promise<void>[] = [];
    for (let k = 0; k < batch && fed < targetPackets; k++) {
      const { chunks, packets } = fuzzConnection(r, id++);
      fed += packets;
      pending.push(
        new Promise<void>((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port });
          const t = setTimeout(() => s.destroy(), 2000);
          s.on('data', () => {});
          s.on('error', () => {});
          s.on('close', () => {
            clearTimeout(t);
            resolve();
          });
          s.on('connect', () => {
            for (const c of chunks) s.write(c);
            s.end();
          });
        }),
      );
    }
    await Promise.all(pending);
  }
  return fed;
}

// ------------------------------------------------------------------------------------------

function getGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

async function roundTrip(port: number, protocolVersion: 4 | 5): Promise<void> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    protocolVersion, clientId: `fuzz-check-${protocolVersion}`, reconnectPeriod: 0, connectTimeout: 10000,
  });
  try {
    const got = new Promise<{ topic: string; payload: string }>((resolve) =>
      client.once('message', (topic, payload) => resolve({ topic, payload: payload.toString() })));
    await client.subscribeAsync('fuzz/check/#', { qos: 1 });
    await client.publishAsync('fuzz/check/x', `still alive v${protocolVersion}`, { qos: 1 });
    const m = await Promise.race([got, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no message within 10 s')), 10000))]);
    assert.deepEqual(m, { topic: 'fuzz/check/x', payload: `still alive v${protocolVersion}` });
  } finally {
    await client.endAsync();
  }
}

describe('broker fuzz: random and mutated packets', function () {
  this.timeout(120000);
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0;
  let broker: Broker;
  let port: number;
  const escaped: unknown[] = [];
  const onUncaught = (err: unknown): void => {
    escaped.push(err);
  };

  before(async function () {
    process.stdout.write(`      fuzz seed ${seed} (FUZZ_SEED=${seed} to reproduce)\n`);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    port = await freePort();
    broker = createBroker({
      listeners: [{ type: 'tcp', port, host: '127.0.0.1' }],
      limits: { connectTimeoutMs: 2000, maxPacketSize: 64 * 1024 },
      sysInterval: 0,
    });
    broker.on('clientError', () => {});
    await broker.listen();
  });

  after(async function () {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    await broker?.close();
  });

  it(`survives >= 100,000 fuzz packets and keeps serving (seed printed above)`, async function () {
    const gc = getGc();
    const r = new Rand(seededRandom(seed));
    // warm up (JIT, pools) before the heap baseline
    await fuzzOverStreams(broker, r, 2000, 100);
    await roundTrip(port, 5);
    await waitFor(() => broker.clients().length === 0, 10000, 'warm-up clients to leave');
    gc();
    const heapBefore = process.memoryUsage().heapUsed;

    const t0 = Date.now();
    const viaStreams = await fuzzOverStreams(broker, r, 92000, 200);
    const viaTcp = await fuzzOverTcp(port, r, 8000, 50);
    const total = viaStreams + viaTcp;
    process.stdout.write(`      fed ${total} packets (${viaStreams} via handleStream, ${viaTcp} via TCP) in ${Date.now() - t0} ms\n`);
    assert.ok(total >= 100000, `only ${total} packets fed`);
    // the fuzz reached the handlers behind CONNECT, not only the framing
    const [connack, puback, pubrec, suback, unsuback, pingresp, disconnect] = [2, 4, 5, 9, 11, 13, 14].map((t) => responses[t]);
    process.stdout.write(
      `      broker answered: CONNACK ${connack}, PUBACK ${puback}, PUBREC ${pubrec}, SUBACK ${suback}, ` +
        `UNSUBACK ${unsuback}, PINGRESP ${pingresp}, DISCONNECT ${disconnect}\n`,
    );
    for (const [name, n] of Object.entries({ connack, puback, pubrec, suback, unsuback, pingresp, disconnect })) {
      assert.ok(n > 0, `the broker never sent ${name.toUpperCase()} (seed ${seed})`);
    }

    // every fuzz connection is gone
    await waitFor(() => broker.clients().length === 0, 15000, 'fuzz clients to be gone');
    assert.equal(broker.stats().clientsConnected, 0);

    // a well-behaved client still gets a full round trip, MQTT 5 and 3.1.1
    await roundTrip(port, 5);
    await roundTrip(port, 4);

    assert.deepEqual(escaped.map(String), [], `exceptions escaped (seed ${seed})`);

    await waitFor(() => broker.clients().length === 0, 10000, 'check clients to leave');
    await delay(2500); // past the 2 s connect timeout: no timer still holds a fuzz connection
    gc();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    const st = broker.stats();
    process.stdout.write(
      `      heap growth after GC: ${(growth / 1024 / 1024).toFixed(1)} MiB; sessions ${st.clientsTotal}, ` +
        `retained ${st.retainedMessages}, subscriptions ${st.subscriptions}, queued ${st.queued}\n`,
    );
    // retained messages from fuzz publishes are legitimately kept (bounded by the topic set):
    // anything near the volume of fuzz traffic itself would be a leak
    assert.ok(growth < 16 * 1024 * 1024, `heap grew by ${growth} bytes (seed ${seed})`);
  });
});
