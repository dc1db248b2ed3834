/**
 * Starts the three brokers the benchmark compares, each as its own process on 127.0.0.1:
 * this project's CLI (built, nodes/lib/broker/cli.js), Aedes 1.2.0 (bench/aedes-server.mjs) and
 * Mosquitto (/usr/sbin/mosquitto with a temporary config).
 */
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** 'alt': our broker from another build (`--alt-cli`), for A/B runs of an engine change. */
export type BrokerName = 'ours' | 'alt' | 'aedes' | 'mosquitto';

export const ROOT = path.resolve(__dirname, '..');
export const OUR_CLI = path.join(ROOT, 'nodes', 'lib', 'broker', 'cli.js');

export interface RunningBroker {
  name: BrokerName;
  pid: number;
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
  /** last lines the process wrote to stderr/stdout (for error reports) */
  output(): string;
}

export interface StartOptions {
  /** write a V8 CPU profile of our broker into this directory */
  cpuProfDir?: string;
  /** the CLI started for 'alt' */
  altCli?: string;
  /** the CLI started for 'ours' (default nodes/lib/broker/cli.js) */
  ourCli?: string;
}

export function findMosquitto(): string | null {
  for (const p of ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/usr/bin/mosquitto']) {
    if (fs.existsSync(p)) return p;
  }
  return null;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitListening(proc: ChildProcess, port: number, output: () => string, timeoutMs = 20000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`exited (${proc.exitCode ?? proc.signalCode}) before listening:\n${output()}`);
    }
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not listening on ${port} after ${timeoutMs} ms:\n${output()}`);
}

function stopper(proc: ChildProcess, cleanup?: () => void): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      const done = (): void => {
        cleanup?.();
        resolve();
      };
      if (proc.exitCode !== null || proc.signalCode !== null) return done();
      const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
      proc.once('exit', () => {
        clearTimeout(kill);
        done();
      });
      proc.kill('SIGTERM');
    });
}

export async function startBroker(name: BrokerName, opts: StartOptions = {}): Promise<RunningBroker> {
  const port = await freePort();
  let proc: ChildProcess;
  let cleanup: (() => void) | undefined;
  if (name === 'ours' || name === 'alt') {
    const cli = name === 'alt' ? opts.altCli ?? '' : opts.ourCli ?? OUR_CLI;
    if (!fs.existsSync(cli)) throw new Error(`${path.relative(ROOT, cli) || '--alt-cli'} is missing (npm run build)`);
    const args = [cli, '--host', '127.0.0.1', '--port', String(port)];
    if (opts.cpuProfDir) {
      // the wrapper turns SIGTERM into a normal exit so that V8 writes the profile
      args.unshift('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`, path.join(__dirname, 'run-cli.cjs'));
    }
    proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  } else if (name === 'aedes') {
    proc = spawn(process.execPath, [path.join(__dirname, 'aedes-server.mjs'), String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: ROOT,
    });
  } else {
    const bin = findMosquitto();
    if (!bin) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-mosq-'));
    const conf = path.join(dir, 'mosquitto.conf');
    fs.writeFileSync(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence false',
        // same outbound flow-control window as our broker's default maxInflight
        'max_inflight_messages 100',
        'max_connections -1',
        // like our broker and the Aedes server: no Nagle delay on small packets (acks)
        'set_tcp_nodelay true',
        'log_dest stderr',
        'log_type error',
        '',
      ].join('\n'),
    );
    proc = spawn(bin, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  }
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-4000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const output = (): string => out;
  const stop = stopper(proc, cleanup);
  try {
    await waitListening(proc, port, output);
  } catch (err) {
    await stop();
    throw new Error(`${name}: ${(err as Error).message}`, { cause: err });
  }
  return { name, pid: proc.pid as number, port, proc, stop, output };
}
