#!/usr/bin/env node
/**
 * mqtt5-hub: run the broker from the command line.
 *   mqtt5-hub [--host 127.0.0.1] [--port 1883] [--config broker.json] [--store <dir>]
 * broker.json holds BrokerOptions (listeners, users, acl, limits, sysInterval, ...); its "store"
 * may be { "dir": "...", "flush": "always" | "interval" } for a durable FileStore (as --store).
 * --host/--port add a TCP listener (the default one when the config has no listeners).
 */
import * as fs from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { createBroker, FileStore, type FileStoreOptions } from './index';
import type { BrokerOptions, ListenerConfig } from './types';

// JIT tier-up for a broker process: V8 optimizes a function after it has run about
// ticks x --interrupt-budget bytes of bytecode. With the default (66 KiB) the connection path
// (ours and node:net / streams) stays in the interpreter for the first thousands of connections,
// which then cost about twice as much CPU as warm ones: a broker restarted under its reconnecting
// clients is slowest exactly when it is busiest. A smaller budget tiers up sooner (measured: about
// -17% CPU per connection in a cold 2,000-client storm; no effect once warm). A budget given on the
// node command line or in NODE_OPTIONS wins.
const V8_TIER_UP = '--interrupt-budget=8192';
if (!`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`.includes('--interrupt-budget')) setFlagsFromString(V8_TIER_UP);

function usage(): never {
  process.stderr.write('usage: mqtt5-hub [--host <address>] [--port <port>] [--config <broker.json>] [--store <dir>]\n');
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  let host: string | undefined;
  let port: number | undefined;
  let config: string | undefined;
  let storeDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) usage();
      return v;
    };
    if (a === '--host' || a === '-h') host = next();
    else if (a === '--port' || a === '-p') port = Number(next());
    else if (a === '--config' || a === '-c') config = next();
    else if (a === '--store' || a === '-s') storeDir = next();
    else if (a === '--help') usage();
    else {
      process.stderr.write(`mqtt5-hub: unknown argument ${a}\n`);
      usage();
    }
  }
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    process.stderr.write('mqtt5-hub: --port must be 0..65535\n');
    process.exit(2);
  }
  let options: BrokerOptions = {};
  if (config) {
    try {
      options = JSON.parse(fs.readFileSync(config, 'utf8')) as BrokerOptions;
    } catch (e) {
      process.stderr.write(`mqtt5-hub: cannot read config ${config}: ${(e as Error).message}\n`);
      process.exit(2);
    }
  }
  const listeners: ListenerConfig[] = [...(options.listeners ?? [])];
  for (const l of listeners) {
    // TLS material may be given as file paths in JSON
    for (const k of ['key', 'cert', 'ca'] as const) {
      const v = (l as unknown as Record<string, unknown>)[k];
      if (typeof v === 'string' && !v.includes('-----BEGIN') && fs.existsSync(v)) (l as unknown as Record<string, unknown>)[k] = fs.readFileSync(v);
    }
  }
  if (port !== undefined || host !== undefined || listeners.length === 0) {
    listeners.push({ type: 'tcp', port: port ?? 1883, host: host ?? '127.0.0.1' });
  }
  options.listeners = listeners;
  const storeCfg = options.store as unknown as Partial<FileStoreOptions> | undefined;
  if (storeDir !== undefined) options.store = new FileStore({ dir: storeDir });
  else if (storeCfg && typeof storeCfg === 'object' && typeof storeCfg.dir === 'string') {
    options.store = new FileStore({ dir: storeCfg.dir, flush: storeCfg.flush, flushIntervalMs: storeCfg.flushIntervalMs });
  }
  const broker = createBroker(options);
  broker.on('listenerError', ({ error }) => process.stderr.write(`mqtt5-hub: listener error: ${error.message}\n`));
  let infos;
  try {
    infos = await broker.listen();
  } catch (e) {
    process.stderr.write(`mqtt5-hub: ${(e as Error).message}\n`);
    await broker.close({ timeoutMs: 1000 });
    process.exit(1);
  }
  for (const i of infos) {
    process.stdout.write(`mqtt5-hub listening: ${i.type}://${i.host}:${i.port}${i.path ?? ''} (${i.id})\n`);
  }
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`mqtt5-hub: ${sig}, shutting down\n`);
    broker.close({ timeoutMs: 5000 }).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main(process.argv.slice(2)).catch((e: Error) => {
  process.stderr.write(`mqtt5-hub: ${e.message}\n`);
  process.exit(1);
});
