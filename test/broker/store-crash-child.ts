/**
 * Child process for store-crash.test.ts: opens a FileStore (flush 'always') in argv[2] and writes
 * queue entries forever, printing one line per write AFTER its promise resolved:
 *   "add <seq>"  enqueue of seq resolved      "rm <seq>"  removeQueued of seq resolved
 * Even seqs are removed after their enqueue resolved. Up to 16 writes are in flight at once
 * (group commit). A small compaction threshold makes snapshots happen during the run.
 */
import { FileStore } from '../../src/broker/store/file';

async function main(): Promise<void> {
  const dir = process.argv[2];
  const store = new FileStore({ dir, flush: 'always', compactThresholdBytes: 32 * 1024, onWarning: (m) => process.stderr.write(`warn: ${m}\n`) });
  await store.open();
  const existing = await store.loadQueue('c');
  let seq = existing.length ? existing[existing.length - 1].seq : 0;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`ready ${seq}`);
  const payload = (s: number) => Buffer.from(`payload-${s}-`.padEnd(200, 'x'));
  const worker = async (): Promise<void> => {
    for (;;) {
      const s = ++seq;
      await store.enqueue('c', [{ seq: s, qos: 1, message: { topic: `t/${s}`, payload: payload(s), qos: 1, retain: false } }]);
      out(`add ${s}`);
      if (s % 2 === 0) {
        await store.removeQueued('c', s);
        out(`rm ${s}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

main().catch((e) => {
  process.stderr.write(`child failed: ${e?.stack ?? e}\n`);
  process.exit(2);
});
