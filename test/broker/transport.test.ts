import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import mqtt from 'mqtt';
import { createBroker } from '../../src/broker';
import { freePort, requireTool, tmpDir } from '../helpers/env';
import { connect, RawClient, startBroker } from './helpers';

async function roundTrip(url: string, opts: mqtt.IClientOptions = {}): Promise<string> {
  const c = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10000, ...opts });
  const got = new Promise<string>((resolve) => c.on('message', (_t, p) => resolve(p.toString())));
  await c.subscribeAsync('tr/x', { qos: 1 });
  await c.publishAsync('tr/x', `via ${url.split(':')[0]}`, { qos: 1 });
  const r = await got;
  await c.endAsync();
  return r;
}

describe('broker core: transports', function () {
  this.timeout(20000);

  it('TLS listener with a self-signed certificate (made with openssl at test time)', async function () {
    const openssl = requireTool(this, 'openssl', 'apt-get install openssl');
    const dir = tmpDir('tls-');
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync(openssl, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const b = createBroker({ sysInterval: 0, listeners: [{ type: 'tls', port: 0, host: '127.0.0.1', key: fs.readFileSync(key), cert: fs.readFileSync(cert) }] });
    const [info] = await b.listen();
    assert.equal(info!.type, 'tls');
    assert.equal(await roundTrip(`mqtts://127.0.0.1:${info!.port}`, { ca: fs.readFileSync(cert), rejectUnauthorized: true }), 'via mqtts');
    await b.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('TLS with requireCertificate: clients need a CA-signed certificate; hooks see its subject; wss on its own port', async function () {
    const openssl = requireTool(this, 'openssl', 'apt-get install openssl');
    const dir = tmpDir('tlsca-');
    const f = (n: string): string => path.join(dir, n);
    const run = (...args: string[]): void => void execFileSync(openssl, args, { stdio: 'ignore', cwd: dir });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    run('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=test-ca');
    fs.writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    for (const [name, cn] of [['srv', '127.0.0.1'], ['cli', 'device-7']]) {
      run('req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
      run('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '1', ...(name === 'srv' ? ['-extfile', f('san.ext')] : []));
    }
    const read = (n: string): Buffer => fs.readFileSync(f(n));
    const subjects: Array<string | undefined> = [];
    const b = createBroker({
      sysInterval: 0,
      hooks: {
        authenticate: (req) => {
          subjects.push(req.certificateSubject);
          return undefined;
        },
      },
      listeners: [
        { type: 'tls', port: 0, host: '127.0.0.1', key: read('srv.key'), cert: read('srv.pem'), ca: read('ca.pem'), requireCertificate: true },
        { type: 'ws', port: 0, host: '127.0.0.1', key: read('srv.key'), cert: read('srv.pem') },
      ],
    });
    const [tlsInfo, wssInfo] = await b.listen();
    assert.equal(wssInfo!.type, 'wss');
    const url = `mqtts://127.0.0.1:${tlsInfo!.port}`;
    assert.equal(await roundTrip(url, { ca: read('ca.pem'), key: read('cli.key'), cert: read('cli.pem') }), 'via mqtts');
    assert.match(String(subjects[0]), /CN=device-7/);
    await assert.rejects(mqtt.connectAsync(url, { ca: read('ca.pem'), reconnectPeriod: 0, connectTimeout: 5000 }), 'no client certificate: refused');
    assert.equal(await roundTrip(`wss://127.0.0.1:${wssInfo!.port}/mqtt`, { ca: read('ca.pem') }), 'via wss');
    await b.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('WebSocket listener on its own port (subprotocol mqtt)', async () => {
    const b = createBroker({ sysInterval: 0, listeners: [{ type: 'ws', port: 0, host: '127.0.0.1' }] });
    const [info] = await b.listen();
    assert.equal(info!.path, '/mqtt');
    assert.equal(await roundTrip(`ws://127.0.0.1:${info!.port}/mqtt`), 'via ws');
    assert.equal(await roundTrip(`ws://127.0.0.1:${info!.port}/mqtt`, { protocolVersion: 4 }), 'via ws');
    await b.close();
  });

  it('WebSocket attached to an existing http.Server at a path (other paths untouched)', async () => {
    const server = http.createServer((_req, res) => res.end('plain http'));
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    const b = createBroker({ sysInterval: 0, listeners: [{ type: 'ws', server, path: '/ws/mqtt' }] });
    const [info] = await b.listen();
    assert.equal(info!.port, 0);
    assert.equal(await roundTrip(`ws://127.0.0.1:${port}/ws/mqtt`), 'via ws');
    const body = await new Promise<string>((resolve) => http.get(`http://127.0.0.1:${port}/`, (res) => res.on('data', (d: Buffer) => resolve(d.toString()))));
    assert.equal(body, 'plain http');
    await b.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('binds exactly the host given; removeListener disconnects its clients with 0x8B', async () => {
    const { broker, url } = await startBroker();
    const [info] = broker.listeners();
    assert.equal(info!.host, '127.0.0.1');
    assert.deepEqual(await broker.listen(), [info], 'listen() again: the same listeners, no second bind');
    const c = await connect(url);
    const reason = new Promise<number>((resolve) => c.on('disconnect', (p) => resolve(p.reasonCode ?? -1)));
    await broker.removeListener(info!.id);
    assert.equal(await reason, 0x8b);
    assert.equal(broker.listeners().length, 0);
    c.end(true);
    await broker.close();
  });

  it('listen() rejects when a listener cannot bind, after closing the ones already started', async () => {
    const { broker: holder, port: busy } = await startBroker();
    const free = await freePort();
    const b = createBroker({ sysInterval: 0, listeners: [{ type: 'tcp', port: free, host: '127.0.0.1' }, { type: 'tcp', port: busy, host: '127.0.0.1' }] });
    const errors: string[] = [];
    b.on('listenerError', (e) => errors.push(e.error.message));
    await assert.rejects(b.listen(), /EADDRINUSE/);
    assert.equal(b.listeners().length, 0);
    assert.ok(errors.some((m) => m.includes('EADDRINUSE')));
    const again = createBroker({ sysInterval: 0, listeners: [{ type: 'tcp', port: free, host: '127.0.0.1' }] });
    assert.equal((await again.listen())[0]!.port, free, 'the first port was released');
    await Promise.all([again.close(), b.close(), holder.close()]);
  });

  it('close() sends 0x8B to MQTT 5 clients and resolves within its timeout', async () => {
    const { broker } = await startBroker();
    const raw = new RawClient(broker, 5);
    await raw.connect({ clientId: 'closing' });
    const t0 = Date.now();
    await Promise.all([broker.close({ timeoutMs: 1500 }), broker.close()]);
    assert.ok(Date.now() - t0 < 8000, `close took ${Date.now() - t0} ms (bounded by its timeout, not by the client)`);
    assert.equal((await raw.next('disconnect')).reasonCode, 0x8b);
    await assert.rejects(broker.connectInProcess({ clientId: 'late' }));
  });
});
