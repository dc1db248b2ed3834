/**
 * Starts a real Mosquitto (Debian package `mosquitto`) on a free loopback port for a test.
 * Use inside a mocha hook: `const m = await startMosquitto(this)`; `await m.stop()` in after().
 */
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as net from 'node:net';
import { freePort, requireTool, tmpDir, waitFor } from './env';

export interface MosquittoInstance {
  port: number;
  url: string;
  proc: ChildProcess;
  dir: string;
  stop(): Promise<void>;
}

export interface MosquittoOptions {
  /** Extra lines for mosquitto.conf. Default: anonymous allowed, persistence off. */
  extraConfig?: string[];
  port?: number;
}

export async function startMosquitto(ctx: Mocha.Context, opts: MosquittoOptions = {}): Promise<MosquittoInstance> {
  const bin = requireTool(ctx, 'mosquitto', 'apt-get install mosquitto mosquitto-clients');
  const port = opts.port ?? (await freePort());
  const dir = tmpDir('mosq-');
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      ...(opts.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  const proc = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        if (proc.exitCode !== null) throw new Error(`mosquitto exited: ${stderr}`);
        const s = net.connect(port, '127.0.0.1');
        s.on('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      }),
    5000,
    'mosquitto to listen',
  );
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    proc,
    dir,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        proc.kill('SIGTERM');
      }),
  };
}
