/**
 * The load generator: a child process (forked by bench/main.ts) that drives one scenario at a
 * time against a broker on 127.0.0.1 and answers with the counts it measured.
 *
 * It is deliberately lean so that the broker, not the generator, is the limit on a 2-core box:
 * raw TCP sockets, packets pre-encoded with mqtt-packet before the run, QoS 0 PUBLISHes written
 * in batches, and on receive only the fixed header (and, for QoS > 0, the packet identifier) is
 * read. Publishers are flow-controlled by a window of deliveries still outstanding at the
 * subscribers, so no broker queue grows without bound and a broker that drops messages shows up
 * as "lost" rather than as a stuck run.
 */
import * as net from 'node:net';
import {
  Version, TYPE_CONNACK, TYPE_PUBLISH, TYPE_PUBACK, TYPE_PUBREC, TYPE_PUBREL, TYPE_PUBCOMP, TYPE_SUBACK,
  encodeConnect, encodeSubscribe, encodeDisconnect, encodePublish, repeat, acks, packetReader, publishPid,
} from './packets';
import { snapshot, cpuShare, rssKiB, CpuSnapshot } from './procstat';

export type Scenario = 'fanin' | 'fanout' | 'qos1' | 'qos2' | 'shared' | 'conn';

export interface RunRequest {
  scenario: Scenario;
  port: number;
  brokerPid: number;
  version: Version;
  warmupMs: number;
  measureMs: number;
  /** Client id prefix, unique per run. */
  tag: string;
  payloadSize: number;
  /** Connection storm: number of clients and how many connect attempts run at once. */
  clients: number;
  concurrency: number;
  /** Connection storm: clients connected and disconnected before the measured storm (0 = cold broker). */
  connWarmup: number;
}

export interface RunResult {
  scenario: Scenario;
  /** deliveries per second at the subscriber(s) (conn: CONNACKs per second) */
  rate: number;
  deliveries: number;
  seconds: number;
  brokerCpu: number;
  genCpu: number;
  /** deliveries written off after a stall (broker dropped them) */
  lost: number;
  stalls: number;
  perSubscriber?: number[];
  // connection storm
  connected?: number;
  failed?: number;
  rssBeforeKiB?: number;
  rssAfterKiB?: number;
  rssPerConnKiB?: number;
  /** RSS growth per client from the first half of the storm to the second */
  rssMarginalKiB?: number;
  /** connection storm: TCP connect + CONNECT -> CONNACK latency, ms */
  connectMs?: { p50: number; p99: number; max: number };
}

function percentiles(xs: number[]): { p50: number; p99: number; max: number } {
  const s = xs.slice().sort((a, b) => a - b);
  const at = (q: number): number => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN);
  return { p50: at(0.5), p99: at(0.99), max: s.length ? s[s.length - 1] : NaN };
}

type Handler = (first: number, buf: Buffer, start: number, end: number) => void;

interface Client {
  sock: net.Socket;
  onPacket: Handler;
  /** called once per socket read, after every packet of it was handled */
  afterRead: () => void;
  blocked: boolean;
  onDrain: () => void;
}

const HOST = '127.0.0.1';
const noop = (): void => {};

function connectClient(port: number, connectBuf: Buffer, timeoutMs = 15000): Promise<Client> {
  return new Promise((resolve, reject) => {
    // onread: the socket reads into one reused buffer (no stream machinery, no allocation per read);
    // packetReader consumes it synchronously and copies only a packet split across two reads
    const read = packetReader((f, b, s, e) => c.onPacket(f, b, s, e));
    const sock = net.connect({
      host: HOST,
      port,
      onread: {
        buffer: Buffer.allocUnsafe(64 * 1024),
        callback: (n: number, buf: Uint8Array) => {
          read((buf as Buffer).subarray(0, n));
          c.afterRead();
          return true;
        },
      },
    });
    sock.setNoDelay(true);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('CONNACK timeout'));
    }, timeoutMs);
    const c: Client = {
      sock,
      blocked: false,
      afterRead: noop,
      onDrain: noop,
      onPacket: (first, buf, start) => {
        if (first >> 4 !== TYPE_CONNACK) return;
        clearTimeout(timer);
        const rc = buf[start + 1];
        if (rc !== 0) {
          sock.destroy();
          reject(new Error(`CONNACK return code 0x${rc.toString(16)}`));
          return;
        }
        c.onPacket = noop;
        resolve(c);
      },
    };
    sock.on('drain', () => {
      c.blocked = false;
      c.onDrain();
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('connect', () => sock.write(connectBuf));
  });
}

function subscribe(c: Client, topic: string, qos: 0 | 1 | 2, version: Version, timeoutMs = 15000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`SUBACK timeout for ${topic}`)), timeoutMs);
    c.onPacket = (first, buf, _start, end) => {
      if (first >> 4 !== TYPE_SUBACK) return;
      clearTimeout(timer);
      c.onPacket = noop;
      const code = buf[end - 1];
      if (code >= 0x80) reject(new Error(`SUBACK 0x${code.toString(16)} for ${topic}`));
      else if (code !== qos) reject(new Error(`SUBACK granted QoS ${code}, asked ${qos} for ${topic}`));
      else resolve();
    };
    c.sock.write(encodeSubscribe(1, topic, qos, version));
  });
}

function closeAll(clients: Client[], version: Version): void {
  const bye = encodeDisconnect(version);
  for (const c of clients) {
    c.onPacket = noop;
    c.afterRead = noop;
    c.onDrain = noop;
    if (!c.sock.destroyed) {
      c.sock.end(bye);
      c.sock.destroySoon();
      // a broker that stops reading must not keep us waiting
      setTimeout(() => c.sock.destroy(), 1000).unref();
    }
  }
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Measurement window shared by the flow scenarios. */
async function measure(
  req: RunRequest,
  counters: { delivered: () => number; perSub?: () => number[] },
): Promise<{ deliveries: number; snapA: CpuSnapshot; snapB: CpuSnapshot; perSub?: number[] }> {
  await delay(req.warmupMs);
  const snapA = snapshot(req.brokerPid);
  const d0 = counters.delivered();
  const p0 = counters.perSub?.();
  await delay(req.measureMs);
  const snapB = snapshot(req.brokerPid);
  const d1 = counters.delivered();
  const p1 = counters.perSub?.();
  return { deliveries: d1 - d0, snapA, snapB, perSub: p1 && p0 ? p1.map((v, i) => v - p0[i]) : undefined };
}

interface FlowConfig {
  publishers: number;
  subscribers: number;
  filter: (i: number) => string;
  topic: (i: number) => string;
  /** deliveries one PUBLISH produces (fan-out: one per subscriber) */
  factor: number;
  /** most PUBLISHes sent and not yet delivered */
  window: number;
  /** PUBLISHes per socket write */
  batch: number;
}

/** QoS 0 flows: fan-in, fan-out, shared subscription. */
async function runQos0(req: RunRequest, cfg: FlowConfig): Promise<RunResult> {
  const v = req.version;
  const clients: Client[] = [];
  try {
    const subs: Client[] = [];
    for (let i = 0; i < cfg.subscribers; i++) {
      const c = await connectClient(req.port, encodeConnect(`${req.tag}-s${i}`, v));
      clients.push(c);
      subs.push(c);
      await subscribe(c, cfg.filter(i), 0, v);
    }
    const pubs: Client[] = [];
    for (let i = 0; i < cfg.publishers; i++) {
      const c = await connectClient(req.port, encodeConnect(`${req.tag}-p${i}`, v));
      clients.push(c);
      pubs.push(c);
    }
    const payload = Buffer.alloc(req.payloadSize, 0x61);
    const batches = pubs.map((_, i) => repeat(encodePublish(cfg.topic(i), payload, 0, v).buf, cfg.batch));

    let delivered = 0;
    let writtenOff = 0;
    let sent = 0;
    let stalls = 0;
    let rr = 0;
    let stopped = false;
    const perSub = new Array<number>(subs.length).fill(0);
    const limit = cfg.window * cfg.factor;
    const step = cfg.batch * cfg.factor;

    const pump = (): void => {
      if (stopped) return;
      while (sent * cfg.factor - delivered - writtenOff + step <= limit) {
        let tries = 0;
        while (pubs[rr].blocked && tries < pubs.length) {
          rr = (rr + 1) % pubs.length;
          tries++;
        }
        if (tries === pubs.length) return; // every publisher is backpressured: 'drain' resumes
        const p = pubs[rr];
        if (!p.sock.write(batches[rr])) p.blocked = true;
        sent += cfg.batch;
        rr = (rr + 1) % pubs.length;
      }
    };
    subs.forEach((c, i) => {
      c.onPacket = (first) => {
        if (first >> 4 === TYPE_PUBLISH) {
          delivered++;
          perSub[i]++;
        }
      };
      c.afterRead = pump;
    });
    for (const p of pubs) p.onDrain = pump;

    // a broker that drops QoS 0 messages would leave the window full: write them off after a stall
    let lastDelivered = -1;
    let idleTicks = 0;
    const watchdog = setInterval(() => {
      if (delivered !== lastDelivered) {
        lastDelivered = delivered;
        idleTicks = 0;
        return;
      }
      const outstanding = sent * cfg.factor - delivered - writtenOff;
      if (outstanding > 0 && ++idleTicks >= 10) {
        writtenOff += outstanding;
        stalls++;
        idleTicks = 0;
        pump();
      }
    }, 100);

    pump();
    const m = await measure(req, { delivered: () => delivered, perSub: () => perSub.slice() });
    stopped = true;
    clearInterval(watchdog);
    const cpu = cpuShare(m.snapA, m.snapB);
    return {
      scenario: req.scenario,
      rate: m.deliveries / cpu.seconds,
      deliveries: m.deliveries,
      seconds: cpu.seconds,
      brokerCpu: cpu.broker,
      genCpu: cpu.gen,
      lost: writtenOff,
      stalls,
      perSubscriber: cfg.subscribers > 1 && cfg.subscribers <= 8 ? m.perSub : undefined,
    };
  } finally {
    closeAll(clients, v);
  }
}

/** QoS 1 / QoS 2 round trips: one publisher, one subscriber, at most `window` messages in flight end to end. */
async function runQosN(req: RunRequest, qos: 1 | 2, window: number): Promise<RunResult> {
  const v = req.version;
  const clients: Client[] = [];
  const topic = `bench/${req.tag}/q${qos}`;
  try {
    const sub = await connectClient(req.port, encodeConnect(`${req.tag}-s`, v));
    clients.push(sub);
    await subscribe(sub, topic, qos, v);
    const pub = await connectClient(req.port, encodeConnect(`${req.tag}-p`, v));
    clients.push(pub);
    const tpl = encodePublish(topic, Buffer.alloc(req.payloadSize, 0x62), qos, v);
    const plen = tpl.buf.length;

    let sent = 0;
    let delivered = 0;
    let completed = 0; // PUBACK (QoS 1) or PUBCOMP (QoS 2) at the publisher
    let refused = 0;
    let wrongQos = 0;
    let stopped = false;

    const pump = (): void => {
      if (stopped || pub.blocked) return;
      const n = Math.min(window - (sent - delivered), window - (sent - completed));
      if (n <= 0) return;
      const out = Buffer.allocUnsafe(plen * n);
      for (let k = 0; k < n; k++) {
        const o = k * plen;
        tpl.buf.copy(out, o);
        const pid = (sent % 65535) + 1;
        out[o + tpl.pidOffset] = pid >> 8;
        out[o + tpl.pidOffset + 1] = pid & 0xff;
        sent++;
      }
      if (!pub.sock.write(out)) pub.blocked = true;
    };

    // subscriber: acknowledge every PUBLISH (PUBACK or PUBREC), answer PUBREL with PUBCOMP
    const subPids: number[] = [];
    const relPids: number[] = [];
    sub.onPacket = (first, buf, start) => {
      const t = first >> 4;
      if (t === TYPE_PUBLISH) {
        if (((first >> 1) & 3) !== qos) {
          wrongQos++;
          return;
        }
        delivered++;
        subPids.push(publishPid(buf, start));
      } else if (t === TYPE_PUBREL) {
        relPids.push((buf[start] << 8) | buf[start + 1]);
      }
    };
    sub.afterRead = () => {
      if (subPids.length) {
        sub.sock.write(acks(qos === 1 ? 0x40 : 0x50, subPids, subPids.length));
        subPids.length = 0;
      }
      if (relPids.length) {
        sub.sock.write(acks(0x70, relPids, relPids.length));
        relPids.length = 0;
      }
      pump();
    };

    // publisher: count PUBACK / PUBCOMP, answer PUBREC with PUBREL
    const recPids: number[] = [];
    pub.onPacket = (first, buf, start, end) => {
      const t = first >> 4;
      if (t === TYPE_PUBACK || t === TYPE_PUBCOMP) {
        completed++;
        if (end - start > 2 && buf[start + 2] >= 0x80) refused++;
      } else if (t === TYPE_PUBREC) {
        if (end - start > 2 && buf[start + 2] >= 0x80) {
          completed++; // refused: the flow ends at PUBREC
          refused++;
        } else recPids.push((buf[start] << 8) | buf[start + 1]);
      }
    };
    pub.afterRead = () => {
      if (recPids.length) {
        pub.sock.write(acks(0x62, recPids, recPids.length));
        recPids.length = 0;
      }
      pump();
    };
    pub.onDrain = pump;

    let last = -1;
    let idle = 0;
    let stalls = 0;
    const watchdog = setInterval(() => {
      const progress = delivered + completed;
      if (progress !== last) {
        last = progress;
        idle = 0;
      } else if (++idle === 20) stalls++; // 2 s without progress: reported, not hidden
    }, 100);

    pump();
    const m = await measure(req, { delivered: () => delivered });
    stopped = true;
    clearInterval(watchdog);
    if (refused) throw new Error(`${refused} PUBLISH refused by the broker`);
    if (wrongQos) throw new Error(`${wrongQos} deliveries arrived with a QoS other than ${qos}`);
    const cpu = cpuShare(m.snapA, m.snapB);
    return {
      scenario: req.scenario,
      rate: m.deliveries / cpu.seconds,
      deliveries: m.deliveries,
      seconds: cpu.seconds,
      brokerCpu: cpu.broker,
      genCpu: cpu.gen,
      lost: 0,
      stalls,
    };
  } finally {
    closeAll(clients, v);
  }
}

/** Connects one client per pre-encoded CONNECT, `concurrency` attempts outstanding at a time. */
function connectMany(
  port: number,
  connects: Buffer[],
  concurrency: number,
): Promise<{ sockets: net.Socket[]; latencies: number[]; connected: number; failed: number }> {
  return new Promise((resolve) => {
    const out = { sockets: [] as net.Socket[], latencies: [] as number[], connected: 0, failed: 0 };
    const total = connects.length;
    let started = 0;
    let settled = 0;
    const startOne = (): void => {
      const idx = started++;
      const s = net.connect({ host: HOST, port });
      out.sockets.push(s);
      s.setNoDelay(true);
      let done = false;
      const t0 = process.hrtime.bigint();
      const settle = (ok: boolean): void => {
        if (done) return;
        done = true;
        out.latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (ok) out.connected++;
        else out.failed++;
        if (++settled === total) resolve(out);
        else if (started < total) startOne();
      };
      s.on('connect', () => s.write(connects[idx]));
      s.once('data', (b: Buffer) => settle(b[0] >> 4 === TYPE_CONNACK && b[3] === 0));
      s.on('error', () => settle(false));
      s.on('close', () => settle(false));
    };
    if (total === 0) resolve(out);
    for (let k = 0; k < Math.min(concurrency, total); k++) startOne();
  });
}

/** DISCONNECT and close every socket (destroyed after 1 s at the latest). */
function hangUp(socks: net.Socket[], v: Version): void {
  const bye = encodeDisconnect(v);
  for (const s of socks) {
    s.removeAllListeners('close');
    s.on('error', noop);
    s.end(bye);
    setTimeout(() => s.destroy(), 1000).unref();
  }
}

/**
 * Connection storm: `clients` connections, `concurrency` CONNECTs outstanding at a time, in two
 * halves. Before it, one client exercises the broker's packet paths (one-off allocations such as
 * codec caches are not per-connection costs) and `connWarmup` clients connect and leave (JIT). Memory is read after each half has settled:
 * `rssPerConnKiB` = RSS growth over all clients / clients (what the brief asks for), and
 * `rssMarginalKiB` = growth from the first to the second half / clients in it, which leaves out
 * fixed costs (e.g. V8 growing its young generation under the storm's garbage).
 */
async function runConn(req: RunRequest): Promise<RunResult> {
  const v = req.version;
  const n = req.clients;
  const connects = Array.from({ length: n }, (_, i) => encodeConnect(`${req.tag}-c${i}`, v, 300));
  const socks: net.Socket[] = [];
  const latencies: number[] = [];
  let connected = 0;
  let failed = 0;

  // warm-up client: CONNECT, SUBSCRIBE, a QoS 1 PUBLISH to itself, DISCONNECT
  {
    const w = await connectClient(req.port, encodeConnect(`${req.tag}-warm`, v));
    const topic = `bench/${req.tag}/warm`;
    await subscribe(w, topic, 1, v);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('warm-up PUBLISH not delivered')), 15000);
      const tpl = encodePublish(topic, Buffer.from('warm'), 1, v);
      w.onPacket = (first, buf, start) => {
        if (first >> 4 !== TYPE_PUBLISH) return;
        w.sock.write(acks(0x40, [publishPid(buf, start)], 1));
        clearTimeout(timer);
        resolve();
      };
      w.sock.write(tpl.buf);
    });
    closeAll([w], v);
  }
  await delay(500);

  const half = async (from: number, to: number): Promise<void> => {
    const r = await connectMany(req.port, connects.slice(from, to), req.concurrency);
    socks.push(...r.sockets);
    latencies.push(...r.latencies);
    connected += r.connected;
    failed += r.failed;
  };

  // warm-up storm (JIT, pools): connect and disconnect `connWarmup` clients before the baseline
  if (req.connWarmup > 0) {
    const warm = Array.from({ length: req.connWarmup }, (_, i) => encodeConnect(`${req.tag}-w${i}`, v, 300));
    const r = await connectMany(req.port, warm, req.concurrency);
    hangUp(r.sockets, v);
    await delay(1000);
  }

  const mid = Math.floor(n / 2);
  const rssBefore = rssKiB(req.brokerPid);
  const a1 = snapshot(req.brokerPid);
  await half(0, mid);
  const b1 = snapshot(req.brokerPid);
  await delay(1000);
  const rssMid = rssKiB(req.brokerPid);
  const connectedMid = connected;
  const a2 = snapshot(req.brokerPid);
  await half(mid, n);
  const b2 = snapshot(req.brokerPid);
  await delay(1500); // let the broker settle before reading its memory
  const rssAfter = rssKiB(req.brokerPid);

  hangUp(socks, v);
  // CPU and time of the two connecting phases only (not the pauses)
  const c1 = cpuShare(a1, b1);
  const c2 = cpuShare(a2, b2);
  const seconds = c1.seconds + c2.seconds;
  return {
    scenario: 'conn',
    rate: connected / seconds,
    deliveries: connected,
    seconds,
    brokerCpu: (c1.broker * c1.seconds + c2.broker * c2.seconds) / seconds,
    genCpu: (c1.gen * c1.seconds + c2.gen * c2.seconds) / seconds,
    lost: 0,
    stalls: 0,
    connected,
    failed,
    rssBeforeKiB: rssBefore,
    rssAfterKiB: rssAfter,
    rssPerConnKiB: connected ? (rssAfter - rssBefore) / connected : NaN,
    rssMarginalKiB: connected > connectedMid ? (rssAfter - rssMid) / (connected - connectedMid) : NaN,
    connectMs: percentiles(latencies),
  };
}

export async function runScenario(req: RunRequest): Promise<RunResult> {
  const t = (s: string): string => `bench/${req.tag}/${s}`;
  switch (req.scenario) {
    case 'fanin':
      return runQos0(req, {
        publishers: 10, subscribers: 1, factor: 1, window: 2000, batch: 25,
        filter: () => t('in/#'), topic: (i) => t(`in/p${i}`),
      });
    case 'fanout':
      return runQos0(req, {
        publishers: 1, subscribers: 50, factor: 50, window: 100, batch: 5,
        filter: () => t('out'), topic: () => t('out'),
      });
    case 'shared':
      return runQos0(req, {
        publishers: 1, subscribers: 4, factor: 1, window: 2000, batch: 25,
        filter: () => `$share/g${req.tag.replace(/[^a-z0-9]/gi, '')}/${t('shared')}`, topic: () => t('shared'),
      });
    case 'qos1':
      return runQosN(req, 1, 100);
    case 'qos2':
      return runQosN(req, 2, 100);
    case 'conn':
      return runConn(req);
    default:
      throw new Error(`unknown scenario ${String(req.scenario)}`);
  }
}

// Child-process protocol: the parent sends { id, req }, we answer { id, result } or { id, error }.
if (require.main === module || process.env.MQTT5HUB_LOADGEN === '1') {
  process.on('message', (m: { id: number; req: RunRequest }) => {
    const deadline = m.req.warmupMs + m.req.measureMs + 60000;
    const timer = setTimeout(() => {
      process.send?.({ id: m.id, error: `scenario did not finish within ${deadline} ms` });
    }, deadline);
    runScenario(m.req).then(
      (result) => {
        clearTimeout(timer);
        process.send?.({ id: m.id, result });
      },
      (err: Error) => {
        clearTimeout(timer);
        process.send?.({ id: m.id, error: err.message });
      },
    );
  });
  process.on('disconnect', () => process.exit(0));
}
