import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as fs from 'node:fs';
import mqtt from 'mqtt';
import { freePort, ROOT, tmpDir } from '../helpers/env';

describe('broker core: mqtt5-hub CLI', function () {
  this.timeout(30000);
  it('listens on the given host/port with a JSON config, serves clients, exits cleanly on SIGTERM', async function () {
    const cli = path.join(ROOT, 'nodes', 'lib', 'broker', 'cli.js');
    if (!fs.existsSync(cli)) throw new Error('build first: nodes/lib/broker/cli.js is missing');
    const port = await freePort();
    const dir = tmpDir('cli-');
    const cfg = path.join(dir, 'broker.json');
    fs.writeFileSync(cfg, JSON.stringify({ sysInterval: 0, limits: { maxQueued: 10 } }));
    const proc = spawn(process.execPath, [cli, '--host', '127.0.0.1', '--port', String(port), '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const deadline = Date.now() + 15000;
      while (!out.includes('listening') && Date.now() < deadline && proc.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      assert.match(out, new RegExp(`tcp://127\\.0\\.0\\.1:${port}`));
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0 });
      const got = new Promise<string>((resolve) => c.on('message', (_t, p) => resolve(p.toString())));
      await c.subscribeAsync('cli/t');
      await c.publishAsync('cli/t', 'via cli');
      assert.equal(await got, 'via cli');
      await c.endAsync();
    } finally {
      const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
      proc.kill('SIGTERM');
      const code = await exited;
      fs.rmSync(dir, { recursive: true, force: true });
      assert.equal(code, 0, `exit code (output: ${out})`);
    }
  });
});
