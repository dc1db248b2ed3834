import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileStore } from '../../src/broker/store/file';
import { ROOT, tmpDir } from '../helpers/env';
import { qm } from './store-contract';

interface RunResult {
  added: Set<number>;
  removed: Set<number>;
  stderr: string;
}

/** Runs the child until it reported `killAfter` completed writes, then SIGKILLs it. */
function runAndKill(dir: string, killAfter: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', path.join(__dirname, 'store-crash-child.ts'), dir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const added = new Set<number>();
    const removed = new Set<number>();
    let buf = '';
    let stderr = '';
    let done = 0;
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not reach ${killAfter} writes in time; stderr: ${stderr}`));
    }, 60000);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [kind, n] = line.split(' ');
        if (kind === 'add') added.add(Number(n));
        else if (kind === 'rm') removed.add(Number(n));
        else continue;
        if (++done >= killAfter && !killed) {
          killed = true;
          child.kill('SIGKILL'); // mid-stream: up to 16 writes are in flight
        }
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`child exited with ${code}: ${stderr}`));
      resolve({ added, removed, stderr });
    });
  });
}

describe('FileStore crash safety', function () {
  this.timeout(120000);
  let dir: string;
  beforeEach(() => (dir = tmpDir('filestore-crash-')));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('SIGKILL mid-write (3 rounds, compactions included): every acknowledged write survives, in order, once', async () => {
    const everAdded = new Set<number>();
    const everRemoved = new Set<number>();
    for (const killAfter of [300, 500, 700]) {
      const r = await runAndKill(dir, killAfter);
      assert.equal(r.stderr.includes('child failed'), false, r.stderr);
      r.added.forEach((s) => everAdded.add(s));
      r.removed.forEach((s) => everRemoved.add(s));
      const warnings: string[] = [];
      const store = new FileStore({ dir, onWarning: (m) => warnings.push(m) });
      await store.open();
      const q = await store.loadQueue('c');
      await store.close();
      const seqs = q.map((e) => e.seq);
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `strictly increasing, no duplicate (at ${seqs[i]})`);
      const present = new Set(seqs);
      // odd seqs are never removed; an even one whose remove was not yet acknowledged may be either way
      for (const s of everAdded) if (s % 2 === 1) assert.ok(present.has(s), `acknowledged enqueue ${s} survived`);
      for (const s of everRemoved) assert.equal(present.has(s), false, `acknowledged remove ${s} survived`);
      for (const e of q) assert.equal(e.message.payload.toString().split('-')[1], String(e.seq), 'payload intact');
      // a kill leaves a stale lock and can only tear the tail of the log: any warning is about that
      for (const w of warnings) assert.match(w, /discarding the last \d+ byte|removing stale lock/);
      assert.ok(warnings.some((w) => /removing stale lock/.test(w)), 'the stale lock was reported');
    }
    assert.ok(everAdded.size >= 1000);
  });
});

describe('FileStore recovery from damaged files', function () {
  let dir: string;
  let warnings: string[];
  beforeEach(() => {
    dir = tmpDir('filestore-dmg-');
    warnings = [];
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const open = async (): Promise<FileStore> => {
    const s = new FileStore({ dir, onWarning: (m) => warnings.push(m) });
    await s.open();
    return s;
  };
  const logs = () => fs.readdirSync(dir).filter((f) => /^log-\d+\.bin$/.test(f)).sort();
  const seqsOf = async (s: FileStore) => (await s.loadQueue('c')).map((e) => e.seq);
  async function writeEntries(from: number, to: number): Promise<void> {
    const s = await open();
    for (let i = from; i <= to; i++) await s.enqueue('c', [qm(i, `p${i}`)]);
    await s.close();
  }
  const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

  it('a torn last record is truncated with a warning; earlier records are kept', async () => {
    await writeEntries(1, 20);
    const [log] = logs();
    const file = path.join(dir, log);
    fs.truncateSync(file, fs.statSync(file).size - 5);
    const s = await open();
    assert.deepEqual(await seqsOf(s), range(1, 19));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], new RegExp(`${log}.*truncated record at offset \\d+; discarding the last \\d+ byte`));
    await s.enqueue('c', [qm(21)]);
    await s.close();
    warnings.length = 0;
    const again = await open();
    assert.deepEqual(await seqsOf(again), [...range(1, 19), 21]);
    assert.deepEqual(warnings, [], 'recovered files are clean');
    await again.close();
  });

  it('a flipped byte in the middle of the log stops replay there (CRC) with a warning', async () => {
    await writeEntries(1, 20);
    const file = path.join(dir, logs()[0]);
    const buf = fs.readFileSync(file);
    let off = 0;
    for (let i = 0; i < 10; i++) off += 8 + buf.readUInt32LE(off); // start of record 11
    buf[off + 20] ^= 0xff;
    fs.writeFileSync(file, buf);
    const s = await open();
    assert.deepEqual(await seqsOf(s), range(1, 10));
    assert.match(warnings.join('\n'), /CRC mismatch at offset \d+/);
    await s.close();
  });

  it('zeros or a garbage length at the tail (power loss) are cut off', async () => {
    await writeEntries(1, 5);
    const file = path.join(dir, logs()[0]);
    fs.appendFileSync(file, Buffer.alloc(4096));
    const s = await open();
    assert.deepEqual(await seqsOf(s), range(1, 5));
    assert.match(warnings.join('\n'), /invalid record length 0/);
    await s.enqueue('c', [qm(6)]);
    await s.close();
    const file2 = path.join(dir, logs()[0]);
    fs.appendFileSync(file2, Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5]));
    warnings.length = 0;
    const t = await open();
    assert.deepEqual(await seqsOf(t), range(1, 6));
    assert.match(warnings.join('\n'), /invalid record length 4294967295/);
    await t.close();
  });

  it('a corrupt snapshot is moved aside, its valid records kept and the log replayed', async () => {
    await writeEntries(1, 30);
    const s0 = await open(); // replays the log and folds it into snapshot.bin
    await s0.close();
    assert.ok(fs.existsSync(path.join(dir, 'snapshot.bin')));
    await writeEntries(31, 35); // these are only in the log
    const snap = path.join(dir, 'snapshot.bin');
    const buf = fs.readFileSync(snap);
    buf[buf.length - 40] ^= 0x55; // damage near the end: the last queue chunk or the end marker
    fs.writeFileSync(snap, buf);
    const s = await open();
    const seqs = await seqsOf(s);
    assert.deepEqual(seqs.slice(-5), range(31, 35), 'log replayed');
    assert.match(warnings.join('\n'), /corrupt snapshot .*moved aside as snapshot\.bin\.corrupt-\d+/);
    assert.equal(fs.readdirSync(dir).filter((f) => f.startsWith('snapshot.bin.corrupt-')).length, 1);
    await s.close();
    warnings.length = 0;
    const again = await open();
    assert.deepEqual(await seqsOf(again), seqs, 'salvaged state was rewritten durably');
    assert.deepEqual(warnings, []);
    await again.close();
  });

  it('a snapshot of pure garbage does not stop the store from opening', async () => {
    fs.writeFileSync(path.join(dir, 'snapshot.bin'), Buffer.from('this is not a snapshot at all'));
    const s = await open();
    assert.deepEqual(await seqsOf(s), []);
    assert.match(warnings.join('\n'), /corrupt snapshot/);
    await s.enqueue('c', [qm(1)]);
    await s.close();
    const again = await open();
    assert.deepEqual(await seqsOf(again), [1]);
    await again.close();
  });

  it('leftovers of an interrupted compaction (tmp snapshot, covered log) are cleaned up', async () => {
    await writeEntries(1, 3);
    const s0 = await open(); // folds into snapshot
    await s0.close();
    fs.writeFileSync(path.join(dir, 'snapshot.bin.tmp'), 'half written');
    fs.writeFileSync(path.join(dir, 'log-00000000.bin'), 'covered log that should have been deleted');
    const s = await open();
    assert.deepEqual(await seqsOf(s), [1, 2, 3]);
    assert.deepEqual(warnings, []);
    await s.close();
    assert.equal(fs.existsSync(path.join(dir, 'snapshot.bin.tmp')), false);
    assert.equal(fs.existsSync(path.join(dir, 'log-00000000.bin')), false);
  });
});
