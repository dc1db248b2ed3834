/**
 * Helpers for the broker core tests: a broker on a free loopback port, mqtt.js clients, and a raw
 * packet-level client over an in-memory duplex pair (broker.handleStream) for exact protocol checks.
 */
import { Duplex } from 'node:stream';
import * as mqttPacket from 'mqtt-packet';
import mqtt from 'mqtt';
import { createBroker } from '../../src/broker';
import type { Broker, BrokerOptions } from '../../src/broker';

export type TestBroker = Broker;

export async function startBroker(opts: BrokerOptions = {}): Promise<{ broker: TestBroker; port: number; url: string }> {
  const broker = createBroker({ sysInterval: 0, listeners: [{ type: 'tcp', port: 0, host: '127.0.0.1' }], ...opts });
  const infos = await broker.listen();
  const port = infos[0]?.port ?? 0;
  return { broker, port, url: `mqtt://127.0.0.1:${port}` };
}

export async function connect(url: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10000, ...opts });
}

/** Connect and also return the CONNACK (e.g. to read sessionPresent); messages are collected from the start. */
export async function connectWithAck(
  url: string,
  opts: mqtt.IClientOptions = {},
): Promise<{ client: mqtt.MqttClient; connack: any; got: Array<{ topic: string; payload: string; packet: mqtt.IPublishPacket }> }> {
  const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10000, ...opts });
  const got = collect(client);
  const connack = await new Promise<any>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  return { client, connack, got };
}

/**
 * Two cross-wired duplex streams: what one side writes, the other reads.
 * `allowHalfOpen: false` makes them behave like a server's net.Socket ('end' from the peer ends this side too).
 */
export function duplexPair(opts: { allowHalfOpen?: boolean } = {}): [Duplex, Duplex] {
  const ends: { a?: Duplex; b?: Duplex } = {};
  const mk = (peer: () => Duplex): Duplex =>
    new Duplex({
      allowHalfOpen: opts.allowHalfOpen ?? true,
      read() {},
      write(chunk, _enc, cb) {
        const p = peer();
        if (!p.destroyed) p.push(chunk);
        cb();
      },
      final(cb) {
        const p = peer();
        if (!p.destroyed) p.push(null);
        cb();
      },
      destroy(err, cb) {
        const p = peer();
        if (!p.destroyed) p.push(null);
        cb(err);
      },
    });
  const a = mk(() => ends.b!);
  const b = mk(() => ends.a!);
  ends.a = a;
  ends.b = b;
  return [a, b];
}

/** A packet-level MQTT client over an in-memory stream. */
export class RawClient {
  readonly stream: Duplex;
  readonly packets: any[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  readonly closedPromise: Promise<void>;
  private readonly parser: any;

  constructor(
    broker: Broker,
    public protocolVersion: 3 | 4 | 5 = 5,
  ) {
    const [mine, theirs] = duplexPair();
    this.stream = mine;
    this.parser = mqttPacket.parser({ protocolVersion });
    this.parser.on('packet', (p: any) => {
      this.packets.push(p);
      this.wake();
    });
    this.parser.on('error', () => undefined);
    mine.on('data', (d: Buffer) => this.parser.parse(d));
    this.closedPromise = new Promise((resolve) => {
      const done = (): void => {
        this.closed = true;
        this.wake();
        resolve();
      };
      mine.on('end', done);
      mine.on('close', done);
    });
    broker.handleStream(theirs, { listener: 'test', remoteAddress: 'memory' });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(packet: any): void {
    this.stream.write(mqttPacket.generate(packet, { protocolVersion: this.protocolVersion }));
  }

  writeRaw(buf: Buffer): void {
    this.stream.write(buf);
  }

  /** Wait for the next packet (optionally of a given cmd; others before it are skipped). */
  async next(cmd?: string, timeoutMs = 5000): Promise<any> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = cmd ? this.packets.findIndex((p) => p.cmd === cmd) : this.packets.length ? 0 : -1;
      if (i >= 0) return this.packets.splice(i, 1)[0];
      if (this.closed) throw new Error(`connection closed while waiting for ${cmd ?? 'a packet'}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${cmd ?? 'a packet'}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Resolves true when no packet of `cmd` arrives within `ms`. */
  async none(cmd: string, ms = 200): Promise<boolean> {
    try {
      await this.next(cmd, ms);
      return false;
    } catch {
      return true;
    }
  }

  async connect(extra: any = {}): Promise<any> {
    this.send({ cmd: 'connect', protocolId: this.protocolVersion === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: this.protocolVersion, clean: true, keepalive: 0, clientId: 'raw', ...extra });
    return this.next('connack');
  }

  end(): void {
    this.stream.destroy();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Collect messages of an mqtt.js client. */
export function collect(c: mqtt.MqttClient): Array<{ topic: string; payload: string; packet: mqtt.IPublishPacket }> {
  const out: Array<{ topic: string; payload: string; packet: mqtt.IPublishPacket }> = [];
  c.on('message', (topic, payload, packet) => out.push({ topic, payload: payload.toString(), packet }));
  return out;
}
