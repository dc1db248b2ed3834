/**
 * Quick FileStore throughput measurement (not a test):
 *   node -r tsx/cjs test/broker/store-bench.ts [messages=5000] [concurrency=1,16,64]
 * For each flush policy and concurrency: N enqueue + N removeQueued of 100-byte QoS 1 messages,
 * `concurrency` clients each doing enqueue -> remove in a loop (like inflight QoS 1 deliveries).
 */
import * as fs from 'node:fs';
import { FileStore } from '../../src/broker/store/file';
import { MemoryStore } from '../../src/broker/store/memory';
import type { BrokerStore } from '../../src/broker/types';
import { tmpDir } from '../helpers/env';

async function run(store: BrokerStore, total: number, conc: number): Promise<number> {
  await store.open();
  const payload = Buffer.alloc(100, 0x61);
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: conc }, async (_, w) => {
      const client = `c${w}`;
      for (;;) {
        const seq = next++;
        if (seq >= total) return;
        await store.enqueue(client, [{ seq, qos: 1, message: { topic: `bench/${w}`, payload, qos: 1, retain: false } }]);
        await store.removeQueued(client, seq);
      }
    }),
  );
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await store.close();
  return (total / ms) * 1000;
}

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 5000);
  const concs = (process.argv[3] ?? '1,16,64').split(',').map(Number);
  const rows: string[] = [];
  for (const conc of concs) {
    rows.push(`memory            conc=${conc}: ${(await run(new MemoryStore(), total, conc)).toFixed(0)} msg/s`);
    for (const flush of ['always', 'interval'] as const) {
      const dir = tmpDir('filestore-bench-');
      const store = new FileStore({ dir, flush });
      const rate = await run(store, total, conc);
      rows.push(`file flush=${flush.padEnd(8)} conc=${conc}: ${rate.toFixed(0)} msg/s (enqueue+remove pairs; ${store.counters.syncs} fdatasync, ${store.counters.batches} batches)`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  process.stdout.write(rows.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exit(1);
});
