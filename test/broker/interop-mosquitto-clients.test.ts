/**
 * Interop: our broker against the real Mosquitto command-line clients (Debian mosquitto-clients),
 * MQTT 5 (-V mqttv5) and 3.1.1 (-V mqttv311).
 *
 * Synchronisation never sleeps on a guess: a subscriber is used only once the broker reported its
 * 'subscribed' event, a will is expected only after the 'clientConnected' event of its client.
 */
import { strict as assert } from 'node:assert';
import { spawn, ChildProcess } from 'node:child_process';
import { createBroker } from '../../src/broker';
import type { Broker } from '../../src/broker/types';
import { freePort, requireTool, waitFor, delay } from '../helpers/env';

const HINT = 'apt-get install mosquitto-clients';

interface Proc {
  proc: ChildProcess;
  lines: () => string[];
  stderr: () => string;
  exit: Promise<number | null>;
}

const running = new Set<ChildProcess>();

function run(bin: string, args: string[], input?: string): Proc {
  const proc = spawn(bin, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  running.add(proc);
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) =>
    proc.on('close', (code) => {
      running.delete(proc);
      resolve(code);
    }),
  );
  if (input !== undefined) proc.stdin?.end(input);
  return { proc, lines: () => out.split('\n').filter((l) => l.length > 0), stderr: () => err, exit };
}

async function exited(p: Proc, timeoutMs = 15000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`process did not exit within ${timeoutMs} ms: ${p.stderr()}`)), timeoutMs);
  });
  try {
    return await Promise.race([p.exit, t]);
  } finally {
    clearTimeout(timer);
  }
}

type V = 'mqttv5' | 'mqttv311';
const VERSIONS: V[] = ['mqttv5', 'mqttv311'];

describe('interop with mosquitto_pub / mosquitto_sub', function () {
  this.timeout(60000);
  let sub = '';
  let pub = '';
  let broker: Broker;
  let port: number;
  let authBroker: Broker;
  let authPort: number;
  let seq = 0;
  const uid = (): string => `ic${process.pid}-${++seq}`;

  before(async function () {
    sub = requireTool(this, 'mosquitto_sub', HINT);
    pub = requireTool(this, 'mosquitto_pub', HINT);
    port = await freePort();
    broker = createBroker({ listeners: [{ type: 'tcp', port, host: '127.0.0.1' }], sysInterval: 0 });
    await broker.listen();
    authPort = await freePort();
    authBroker = createBroker({
      listeners: [{ type: 'tcp', port: authPort, host: '127.0.0.1' }],
      users: [{ username: 'alice', password: 'wonder land' }],
      allowAnonymous: false,
      sysInterval: 0,
    });
    await authBroker.listen();
  });

  afterEach(function () {
    for (const p of running) p.kill('SIGKILL');
  });

  after(async function () {
    await broker?.close();
    await authBroker?.close();
  });

  /** Starts mosquitto_sub and resolves once the broker has its subscription. */
  async function subscriber(args: string[], b: Broker = broker, p: number = port): Promise<Proc> {
    const id = uid();
    const subscribed = new Promise<void>((resolve) => {
      const on = (info: { clientId: string }): void => {
        if (info.clientId !== id) return;
        b.off('subscribed', on);
        resolve();
      };
      b.on('subscribed', on);
    });
    const proc = run(sub, ['-h', '127.0.0.1', '-p', String(p), '-i', id, ...args]);
    await Promise.race([
      subscribed,
      exited(proc, 15000).then((code) => {
        throw new Error(`mosquitto_sub exited (${code}) before subscribing: ${proc.stderr()}`);
      }),
    ]);
    return proc;
  }

  function publish(args: string[], p: number = port, input?: string): Proc {
    return run(pub, ['-h', '127.0.0.1', '-p', String(p), '-i', uid(), ...args], input);
  }

  for (const v of VERSIONS) {
    describe(`-V ${v}`, function () {
      for (const qos of [0, 1, 2]) {
        it(`QoS ${qos} publish/subscribe round trip`, async function () {
          const topic = `interop/${v}/qos${qos}`;
          const s = await subscriber(['-V', v, '-t', topic, '-q', String(qos), '-C', '1', '-W', '20', '-F', '%q|%t|%p']);
          const p = publish(['-V', v, '-t', topic, '-q', String(qos), '-m', `hello ${qos}`]);
          assert.equal(await exited(p), 0, p.stderr());
          assert.equal(await exited(s), 0, s.stderr());
          assert.deepEqual(s.lines(), [`${qos}|${topic}|hello ${qos}`]);
        });
      }

      it('retained message: stored, flagged on delivery, cleared by an empty retained publish', async function () {
        const topic = `interop/${v}/retained`;
        const p = publish(['-V', v, '-t', topic, '-q', '1', '-r', '-m', 'kept']);
        assert.equal(await exited(p), 0, p.stderr());
        const s = run(sub, ['-h', '127.0.0.1', '-p', String(port), '-V', v, '-t', topic, '-C', '1', '-W', '10', '-F', '%r|%p']);
        assert.equal(await exited(s), 0, s.stderr());
        assert.deepEqual(s.lines(), ['1|kept']);
        const clear = publish(['-V', v, '-t', topic, '-q', '1', '-r', '-n']);
        assert.equal(await exited(clear), 0, clear.stderr());
        // --retained-only: exits at the first non-retained message, or by -W when nothing is retained
        const s2 = run(sub, ['-h', '127.0.0.1', '-p', String(port), '-V', v, '-t', topic, '--retained-only', '-W', '1', '-F', '%r|%p']);
        await exited(s2);
        assert.deepEqual(s2.lines(), []);
      });

      it('username/password accepted, wrong password and anonymous refused', async function () {
        const topic = `interop/${v}/auth`;
        const s = await subscriber(['-V', v, '-u', 'alice', '-P', 'wonder land', '-t', topic, '-C', '1', '-W', '20'], authBroker, authPort);
        const ok = publish(['-V', v, '-u', 'alice', '-P', 'wonder land', '-t', topic, '-m', 'authorised'], authPort);
        assert.equal(await exited(ok), 0, ok.stderr());
        assert.equal(await exited(s), 0, s.stderr());
        assert.deepEqual(s.lines(), ['authorised']);

        const bad = publish(['-V', v, '-u', 'alice', '-P', 'wrong', '-t', topic, '-m', 'x'], authPort);
        assert.notEqual(await exited(bad), 0);
        assert.match(bad.stderr(), /not authori[sz]ed|bad user ?name or password/i);
        const anon = publish(['-V', v, '-t', topic, '-m', 'x'], authPort);
        assert.notEqual(await exited(anon), 0);
        assert.match(anon.stderr(), /not authori[sz]ed|bad user ?name or password/i);
      });

      it('will message is published when the client is killed', async function () {
        const willTopic = `interop/${v}/will/${uid()}`;
        const watcher = await subscriber(['-V', v, '-t', willTopic, '-C', '1', '-W', '20', '-F', '%t|%p']);
        const id = uid();
        const connected = new Promise<void>((resolve) => {
          const on = (info: { clientId: string }): void => {
            if (info.clientId !== id) return;
            broker.off('clientConnected', on);
            resolve();
          };
          broker.on('clientConnected', on);
        });
        const victim = run(sub, [
          '-h', '127.0.0.1', '-p', String(port), '-V', v, '-i', id, '-t', `interop/${v}/idle`,
          '--will-topic', willTopic, '--will-payload', 'gone', '--will-qos', '1',
        ]);
        await connected;
        victim.proc.kill('SIGKILL'); // no DISCONNECT: the broker must publish the will
        assert.equal(await exited(watcher), 0, watcher.stderr());
        assert.deepEqual(watcher.lines(), [`${willTopic}|gone`]);
      });

      it('a clean disconnect does not publish the will', async function () {
        const willTopic = `interop/${v}/nowill/${uid()}`;
        const watcher = await subscriber(['-V', v, '-t', willTopic, '-W', '2', '-F', '%p']);
        const p = publish(['-V', v, '-t', `interop/${v}/x`, '-m', 'bye', '--will-topic', willTopic, '--will-payload', 'unexpected']);
        assert.equal(await exited(p), 0, p.stderr());
        await exited(watcher);
        assert.deepEqual(watcher.lines(), []);
      });

      it('shared subscription $share/g/t: every message to exactly one of two subscribers', async function () {
        const topic = `interop/${v}/shared`;
        const group = `g${uid().replace(/[^a-z0-9]/gi, '')}`;
        const a = await subscriber(['-V', v, '-t', `$share/${group}/${topic}`, '-q', '1', '-F', '%p']);
        const b = await subscriber(['-V', v, '-t', `$share/${group}/${topic}`, '-q', '1', '-F', '%p']);
        const n = 40;
        const msgs = Array.from({ length: n }, (_, i) => `m${i}`);
        // -l: one message per line of standard input
        const p = publish(['-V', v, '-t', topic, '-q', '1', '-l'], port, msgs.join('\n') + '\n');
        assert.equal(await exited(p), 0, p.stderr());
        await waitFor(() => a.lines().length + b.lines().length >= n, 15000, `${n} shared deliveries`);
        await delay(300); // a duplicate would arrive right behind
        const all = [...a.lines(), ...b.lines()];
        assert.equal(all.length, n, `got ${a.lines().length} + ${b.lines().length}`);
        assert.deepEqual([...all].sort(), [...msgs].sort());
        assert.ok(a.lines().length > 0 && b.lines().length > 0, `one member got nothing: ${a.lines().length}/${b.lines().length}`);
      });
    });
  }

  describe('mixed versions and QoS', function () {
    it('QoS is downgraded to the subscription: publish QoS 2, subscribe QoS 1 -> delivered QoS 1', async function () {
      const topic = 'interop/mixed/downgrade';
      const s = await subscriber(['-V', 'mqttv5', '-t', topic, '-q', '1', '-C', '1', '-W', '20', '-F', '%q|%p']);
      const p = publish(['-V', 'mqttv311', '-t', topic, '-q', '2', '-m', 'down']);
      assert.equal(await exited(p), 0, p.stderr());
      assert.equal(await exited(s), 0, s.stderr());
      assert.deepEqual(s.lines(), ['1|down']);
    });

    it('an MQTT 5 publish with user properties reaches a 3.1.1 subscriber (payload only)', async function () {
      const topic = 'interop/mixed/v5-to-v311';
      const s = await subscriber(['-V', 'mqttv311', '-t', topic, '-q', '1', '-C', '1', '-W', '20', '-F', '%q|%t|%p']);
      const p = publish(['-V', 'mqttv5', '-t', topic, '-q', '1', '-m', 'from five', '-D', 'publish', 'user-property', 'k', 'v']);
      assert.equal(await exited(p), 0, p.stderr());
      assert.equal(await exited(s), 0, s.stderr());
      assert.deepEqual(s.lines(), [`1|${topic}|from five`]);
    });
  });

  describe('-V mqttv5 properties', function () {
    it('user properties travel from mosquitto_pub to mosquitto_sub', async function () {
      const topic = 'interop/v5/userprops';
      const s = await subscriber(['-V', 'mqttv5', '-t', topic, '-C', '1', '-W', '20', '-F', '%P|%p']);
      const p = publish(['-V', 'mqttv5', '-t', topic, '-m', 'with props',
        '-D', 'publish', 'user-property', 'site', 'berlin', '-D', 'publish', 'user-property', 'line', '7']);
      assert.equal(await exited(p), 0, p.stderr());
      assert.equal(await exited(s), 0, s.stderr());
      assert.equal(s.lines().length, 1);
      const [props, payload] = s.lines()[0].split('|');
      assert.equal(payload, 'with props');
      assert.deepEqual(props.split(' ').filter(Boolean).sort(), ['line:7', 'site:berlin']);
    });

    it('response topic and correlation data are forwarded', async function () {
      const topic = 'interop/v5/request';
      const s = await subscriber(['-V', 'mqttv5', '-t', topic, '-C', '1', '-W', '20', '-F', '%R|%D|%p']);
      const p = publish(['-V', 'mqttv5', '-t', topic, '-m', 'ping',
        '-D', 'publish', 'response-topic', 'interop/v5/reply', '-D', 'publish', 'correlation-data', 'abc123']);
      assert.equal(await exited(p), 0, p.stderr());
      assert.equal(await exited(s), 0, s.stderr());
      assert.deepEqual(s.lines(), ['interop/v5/reply|abc123|ping']);
    });

    it('message expiry: interval forwarded (not above the original), expired retained message not delivered', async function () {
      const topic = 'interop/v5/expiry';
      const s = await subscriber(['-V', 'mqttv5', '-t', topic, '-C', '1', '-W', '20', '-F', '%E|%p']);
      const p = publish(['-V', 'mqttv5', '-t', topic, '-m', 'fresh', '-D', 'publish', 'message-expiry-interval', '60']);
      assert.equal(await exited(p), 0, p.stderr());
      assert.equal(await exited(s), 0, s.stderr());
      const [expiry, payload] = s.lines()[0].split('|');
      assert.equal(payload, 'fresh');
      assert.ok(Number(expiry) > 0 && Number(expiry) <= 60, `expiry ${expiry}`);

      const rtopic = 'interop/v5/expiry/retained';
      const r = publish(['-V', 'mqttv5', '-t', rtopic, '-r', '-q', '1', '-m', 'short-lived', '-D', 'publish', 'message-expiry-interval', '1']);
      assert.equal(await exited(r), 0, r.stderr());
      const live = publish(['-V', 'mqttv5', '-t', `${rtopic}/kept`, '-r', '-q', '1', '-m', 'long-lived', '-D', 'publish', 'message-expiry-interval', '3600']);
      assert.equal(await exited(live), 0, live.stderr());
      await delay(2200); // past the 1 s expiry, by a wide margin
      const late = run(sub, ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv5', '-t', `${rtopic}/#`, '-W', '2', '-F', '%t|%p']);
      await exited(late);
      assert.deepEqual(late.lines(), [`${rtopic}/kept|long-lived`]);
    });
  });
});
