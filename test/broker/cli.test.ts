import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as fs from 'node:fs';
import mqtt from 'mqtt';
import { freePort, ROOT, tmpDir } from '../helpers/env';

const CLI = path.join(ROOT, 'nodes', 'lib', 'broker', 'cli.js');

async function startCli(args: string[]): Promise<{ proc: ChildProcess; output: () => string; stop: () => Promise<number | null> }> {
  if (!fs.existsSync(CLI)) throw new Error('build first: nodes/lib/broker/cli.js is missing');
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 15000;
  while (!out.includes('listening') && Date.now() < deadline && proc.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  return {
    proc,
    output: () => out,
    stop: () =>
      new Promise<number | null>((resolve) => {
        if (proc.exitCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill('SIGTERM');
      }),
  };
}

describe('broker core: mqtt5-hub CLI', function () {
  this.timeout(30000);

  it('listens on the given host/port with a JSON config, serves clients, exits cleanly on SIGTERM', async () => {
    const port = await freePort();
    const dir = tmpDir('cli-');
    const cfg = path.join(dir, 'broker.json');
    fs.writeFileSync(cfg, JSON.stringify({ sysInterval: 0, limits: { maxQueued: 10 } }));
    const cli = await startCli(['--host', '127.0.0.1', '--port', String(port), '--config', cfg]);
    try {
      assert.match(cli.output(), new RegExp(`tcp://127\\.0\\.0\\.1:${port}`));
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0 });
      const got = new Promise<string>((resolve) => c.on('message', (_t, p) => resolve(p.toString())));
      await c.subscribeAsync('cli/t');
      await c.publishAsync('cli/t', 'via cli');
      assert.equal(await got, 'via cli');
      await c.endAsync();
    } finally {
      const code = await cli.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      assert.equal(code, 0, `exit code (output: ${cli.output()})`);
    }
  });

  it('--store <dir> keeps retained messages across a restart', async () => {
    const port = await freePort();
    const dir = tmpDir('cli-store-');
    const args = ['--port', String(port), '--store', path.join(dir, 'data')];
    const first = await startCli(args);
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    await c.publishAsync('cli/kept', 'durable', { qos: 1, retain: true });
    await c.endAsync();
    assert.equal(await first.stop(), 0, first.output());
    const second = await startCli(args);
    try {
      const d = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
      const got = new Promise<string>((resolve) => d.on('message', (_t, p) => resolve(p.toString())));
      await d.subscribeAsync('cli/kept', { qos: 1 });
      assert.equal(await got, 'durable');
      await d.endAsync();
    } finally {
      assert.equal(await second.stop(), 0, second.output());
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad arguments with exit code 2', async () => {
    const proc = spawn(process.execPath, [CLI, '--port', 'nope'], { stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
    assert.equal(code, 2);
  });
});
