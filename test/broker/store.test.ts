import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MemoryStore } from '../../src/broker/store/memory';
import { FileStore } from '../../src/broker/store/file';
import { crc32, crc32Portable } from '../../src/broker/store/codec';
import { tmpDir, waitFor } from '../helpers/env';
import { msg, qm, storeContract } from './store-contract';

storeContract({
  name: 'MemoryStore',
  durable: false,
  fresh: async () => {
    const s = new MemoryStore();
    return { make: () => s, cleanup: async () => undefined };
  },
});

for (const flush of ['always', 'interval'] as const) {
  storeContract({
    name: `FileStore (flush ${flush})`,
    durable: true,
    fresh: async () => {
      const dir = tmpDir('filestore-');
      return {
        make: () => new FileStore({ dir, flush, flushIntervalMs: 50, onWarning: (m) => assert.fail(`unexpected warning: ${m}`) }),
        cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
      };
    },
  });
}

storeContract({
  name: 'FileStore (tiny compaction threshold)',
  durable: true,
  fresh: async () => {
    const dir = tmpDir('filestore-');
    return {
      make: () => new FileStore({ dir, compactThresholdBytes: 4096, onWarning: (m) => assert.fail(`unexpected warning: ${m}`) }),
      cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  },
});

describe('FileStore specifics', function () {
  let dir: string;
  beforeEach(() => (dir = tmpDir('filestore-')));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses a directory that another open store holds (lock file with pid)', async () => {
    const a = new FileStore({ dir });
    await a.open();
    assert.equal(fs.readFileSync(path.join(dir, 'lock'), 'utf8').trim(), String(process.pid));
    const b = new FileStore({ dir });
    await assert.rejects(b.open(), /already open in this process/);
    await a.close();
    assert.equal(fs.existsSync(path.join(dir, 'lock')), false);
    await b.open();
    await b.close();
  });

  it('refuses a directory locked by another live process, takes over a stale lock with a warning', async () => {
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(path.join(dir, 'lock'), `${other.pid}\n`);
      const s = new FileStore({ dir });
      await assert.rejects(s.open(), new RegExp(`in use by process ${other.pid}`));
    } finally {
      other.kill('SIGKILL');
    }
    await new Promise((r) => other.once('exit', r));
    const warnings: string[] = [];
    const t = new FileStore({ dir, onWarning: (m) => warnings.push(m) });
    await t.open(); // the owner is dead now: stale lock
    assert.match(warnings.join('\n'), new RegExp(`stale lock of process ${other.pid}`));
    assert.equal(fs.readFileSync(path.join(dir, 'lock'), 'utf8').trim(), String(process.pid));
    await t.close();
  });

  it('an open() of a directory whose store is still closing waits for the close (redeploy)', async () => {
    const a = new FileStore({ dir, flush: 'always' });
    await a.open();
    const writes: Promise<void>[] = [];
    for (let i = 1; i <= 50; i++) writes.push(a.enqueue('c', [qm(i)]));
    const closing = a.close(); // not awaited, like a redeploy racing the old broker's shutdown
    const b = new FileStore({ dir });
    await b.open();
    await Promise.all([closing, ...writes]);
    assert.equal((await b.loadQueue('c')).length, 50);
    await b.close();
  });

  it('random operations in concurrent bursts, with frequent compactions, match the MemoryStore model after reopen', async () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const model = new MemoryStore();
    const fsStore = new FileStore({ dir, compactThresholdBytes: 8192 });
    await fsStore.open();
    const seqs = new Map<string, number>();
    for (let burst = 0; burst < 60; burst++) {
      const ops: Promise<void>[] = [];
      for (let k = 0; k < 40; k++) {
        const c = `c${rnd(4)}`;
        const op = rnd(10);
        const apply = (f: (s: MemoryStore | FileStore) => Promise<void>) => {
          ops.push(f(model), f(fsStore));
        };
        if (op < 4) {
          const seq = (seqs.get(c) ?? 0) + 1;
          seqs.set(c, seq);
          const e = qm(seq, `p-${burst}-${k}`);
          apply((s) => s.enqueue(c, [{ ...e }]));
        } else if (op < 6) {
          const seq = 1 + rnd(seqs.get(c) ?? 1);
          apply((s) => s.removeQueued(c, seq));
        } else if (op === 6) {
          const seq = 1 + rnd(seqs.get(c) ?? 1);
          const e = qm(seq, `u-${burst}-${k}`, { messageId: rnd(65535) + 1, state: rnd(2) ? 'publish' : 'pubrel' });
          apply((s) => s.updateQueued(c, { ...e }));
        } else if (op === 7) {
          const t = `r/${rnd(20)}`;
          const payload = rnd(4) === 0 ? '' : `v${burst}-${k}`;
          apply((s) => s.storeRetained(msg(t, payload, { retain: true })));
        } else if (op === 8) {
          const expiryInterval = rnd(100);
          const topicFilter = `x/${rnd(5)}`;
          apply((s) => s.saveSession({ clientId: c, protocolVersion: 5, expiryInterval, subscriptions: [{ topicFilter, qos: 1 }] }));
        } else if (rnd(4) === 0) {
          apply((s) => s.deleteSession(c));
        }
      }
      await Promise.all(ops);
    }
    await waitCompactions(fsStore);
    assert.ok(fsStore.counters.compactions >= 2, `compactions: ${fsStore.counters.compactions}`);
    await fsStore.close();
    const re = new FileStore({ dir, onWarning: (m) => assert.fail(m) });
    await re.open();
    const norm = <T>(a: T[], key: (x: T) => string) => a.slice().sort((x, y) => key(x).localeCompare(key(y)));
    assert.deepEqual(norm(await re.loadRetained(), (m) => m.topic), norm(await model.loadRetained(), (m) => m.topic));
    assert.deepEqual(norm(await re.loadSessions(), (x) => x.clientId), norm(await model.loadSessions(), (x) => x.clientId));
    let total = 0;
    for (const c of ['c0', 'c1', 'c2', 'c3']) {
      const q = await model.loadQueue(c);
      total += q.length;
      assert.deepEqual(await re.loadQueue(c), q, `queue of ${c}`);
    }
    assert.ok(total > 20, `non-trivial final state (${total} queued)`);
    await re.close();
  });

  it('CRC-32: the portable implementation (Node 18) equals zlib.crc32', () => {
    const data = Buffer.from('The quick brown fox jumps over the lazy dog');
    assert.equal(crc32Portable(data), 0x414fa339);
    assert.equal(crc32(data), 0x414fa339);
    const rnd = Buffer.alloc(4096);
    for (let i = 0; i < rnd.length; i++) rnd[i] = (i * 7919) & 0xff;
    assert.equal(crc32Portable(rnd), crc32(rnd));
  });

  it('a failing compaction is reported, loses nothing, and writing goes on', async () => {
    const warnings: string[] = [];
    const s = new FileStore({ dir, compactThresholdBytes: 4096, onWarning: (m) => warnings.push(m) });
    await s.open();
    fs.mkdirSync(path.join(dir, 'snapshot.bin.tmp')); // the snapshot temp file cannot be created
    for (let i = 1; i <= 60; i++) await s.enqueue('c', [qm(i, 'y'.repeat(200))]);
    await waitCompactions(s);
    assert.match(warnings.join('\n'), /compaction failed \(the logs are kept\)/);
    for (let i = 61; i <= 70; i++) await s.enqueue('c', [qm(i)]);
    await s.close();
    fs.rmdirSync(path.join(dir, 'snapshot.bin.tmp'));
    const r = new FileStore({ dir, onWarning: (m) => assert.fail(m) });
    await r.open();
    assert.deepEqual((await r.loadQueue('c')).map((q) => q.seq), Array.from({ length: 70 }, (_, i) => i + 1));
    await r.close();
  });

  it('restarts without writes leave no files behind (one empty log at most)', async () => {
    for (let i = 0; i < 4; i++) {
      const s = new FileStore({ dir });
      await s.open();
      await s.close();
    }
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('log-')).length, 1);
  });

  it('rejects operations before open and after close', async () => {
    const s = new FileStore({ dir });
    await assert.rejects(s.enqueue('c', [qm(1)]), /not open/);
    await s.open();
    await s.close();
    await assert.rejects(s.storeRetained(msg('a', 'b')), /not open/);
  });

  it('compacts into a snapshot and deletes covered logs; state survives', async () => {
    const s = new FileStore({ dir, compactThresholdBytes: 4096 });
    await s.open();
    const big = 'x'.repeat(300);
    for (let i = 1; i <= 100; i++) await s.enqueue('c', [qm(i, big)]);
    for (let i = 1; i <= 90; i++) await s.removeQueued('c', i);
    await waitCompactions(s);
    assert.ok(s.counters.compactions >= 1, 'compacted');
    await s.close();
    const files = fs.readdirSync(dir).sort();
    assert.ok(files.includes('snapshot.bin'));
    assert.ok(files.filter((f) => f.startsWith('log-')).length <= 2, `few logs: ${files.join(',')}`);
    const r = new FileStore({ dir });
    await r.open();
    assert.deepEqual((await r.loadQueue('c')).map((q) => q.seq), [91, 92, 93, 94, 95, 96, 97, 98, 99, 100]);
    await r.close();
  });

  it("flush 'always' syncs every batch and groups concurrent writes into few batches", async () => {
    const s = new FileStore({ dir, flush: 'always' });
    await s.open();
    const ops: Promise<void>[] = [];
    for (let i = 1; i <= 300; i++) ops.push(s.enqueue('c', [qm(i)]));
    await Promise.all(ops);
    assert.equal(s.counters.records, 300);
    assert.ok(s.counters.batches < 300, `grouped: ${s.counters.batches} batches`);
    assert.equal(s.counters.syncs, s.counters.batches);
    await s.close();
  });

  it("flush 'interval' acknowledges before fdatasync; the timer syncs dirty data later", async () => {
    const lazy = new FileStore({ dir, flush: 'interval', flushIntervalMs: 600000 });
    await lazy.open();
    const before = lazy.counters.syncs;
    for (let i = 1; i <= 20; i++) await lazy.enqueue('c', [qm(i)]);
    assert.equal(lazy.counters.syncs, before, 'no fdatasync before acknowledging');
    await lazy.close(); // close syncs what is dirty
    const s = new FileStore({ dir, flush: 'interval', flushIntervalMs: 50 });
    await s.open();
    assert.equal((await s.loadQueue('c')).length, 20);
    const syncs = s.counters.syncs;
    await s.enqueue('c', [qm(21)]);
    await waitFor(() => s.counters.syncs > syncs, 5000, 'interval fdatasync');
    await s.close();
  });
});

async function waitCompactions(s: FileStore): Promise<void> {
  await waitFor(() => !(s as unknown as { compaction: unknown }).compaction, 5000, 'compaction');
}
