/**
 * FileStore: a durable BrokerStore in plain files (no native module, so it installs anywhere
 * Node-RED runs, a Raspberry Pi included).
 *
 * Design
 * - The whole state is mirrored in memory (a MemoryState); loads are served from memory.
 * - Every change is appended to a log file `log-<gen>.bin` as a length-prefixed, CRC-32 checked
 *   record (see codec.ts): retained set/delete, session save/delete, enqueue, patch (update), remove.
 * - Compaction writes the whole state as a snapshot (`snapshot.bin.tmp` + fsync + rename to
 *   `snapshot.bin` + directory fsync). The snapshot names the last log generation it covers; writes
 *   continue meanwhile into a fresh log generation, and covered logs are deleted afterwards.
 *   Records are absolute assignments (set / delete by key), so replaying a record whose effect is
 *   already in the snapshot is harmless.
 * - open(): read the snapshot, replay newer logs in order; stop at the first torn or corrupt record
 *   of a log and truncate it there (warning through onWarning). A corrupt snapshot is moved aside as
 *   `snapshot.bin.corrupt-<ts>`; its valid leading records are still used and the logs replayed.
 *   open() never throws because of file contents; it throws only if the directory is locked by
 *   another live broker or cannot be created/written.
 * - A lock file `lock` holds the owner's pid: two brokers never share a directory (a lock left by
 *   a dead process is taken over with a warning).
 *
 * Flush policy
 * - 'always' (default): a write's promise resolves after fdatasync. Concurrent writes are batched into
 *   one write + one fdatasync (group commit), so throughput grows with concurrency.
 * - 'interval': a write's promise resolves once the data is handed to the OS (write(2)): it survives
 *   a crash of the process, but on power loss or an OS crash up to `flushIntervalMs` (default 1000)
 *   of acknowledged writes can be lost. fdatasync runs every flushIntervalMs while there is unsynced data.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { BrokerMessage, BrokerStore, QueuedMessage, StoredSession } from '../types';
import { MemoryState } from './memory';
import {
  BlobReader,
  BlobWriter,
  RecordType,
  decMessage,
  decQueued,
  decSession,
  decodeRecord,
  encMessage,
  encQueued,
  encSession,
  encodeRecord,
  patchFields,
} from './codec';

export interface FileStoreOptions {
  dir: string;
  flush?: 'always' | 'interval';
  /** fdatasync period for flush 'interval' (ms, default 1000). */
  flushIntervalMs?: number;
  /** Recovery and I/O warnings (default: process.emitWarning). */
  onWarning?: (msg: string) => void;
  /** Compact when the current log exceeds this size (bytes, default 8 MiB) and twice the last snapshot. */
  compactThresholdBytes?: number;
}

const SNAPSHOT = 'snapshot.bin';
const LOCK = 'lock';
const LOG_RE = /^log-(\d+)\.bin$/;
const SNAPSHOT_VERSION = 1;
/** Queue entries per Enqueue record in a snapshot. */
const SNAPSHOT_CHUNK = 512;

/** Directories locked by FileStores of this process (the pid in the lock file cannot tell them apart). */
const lockedHere = new Set<string>();
/** close() in progress per directory: an open() of the same directory (a redeploy) waits for it. */
const closingHere = new Map<string, Promise<void>>();

function logName(gen: number): string {
  return `log-${String(gen).padStart(8, '0')}.bin`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A pid reused after a reboot by an unrelated program does not count (Linux only; elsewhere trust kill).
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /node/i.test(cmd);
  } catch {
    return true;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // not supported on every platform (Windows); the rename is still atomic
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

export class FileStore implements BrokerStore {
  readonly dir: string;
  readonly flush: 'always' | 'interval';
  readonly flushIntervalMs: number;
  readonly compactThresholdBytes: number;
  private readonly warn: (msg: string) => void;

  private readonly state = new MemoryState();
  private isOpen = false;
  private closing = false;
  private lockKey = '';

  private fh: fsp.FileHandle | null = null;
  private gen = 0;
  private logSize = 0;
  private lastSnapshotBytes = 0;

  private pending: Buffer[] = [];
  private waiters: Waiter[] = [];
  private draining: Promise<void> | null = null;
  private kickScheduled = false;
  private dirty = false;
  private lastSync = 0;
  private syncing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private compaction: Promise<void> | null = null;
  private batch: Promise<void> | null = null;
  /** set by recovery when the state must be rewritten as a snapshot at open */
  private needsCompaction = false;

  /** Counters for tests and benchmarks. */
  readonly counters = { records: 0, batches: 0, syncs: 0, compactions: 0 };

  constructor(opts: FileStoreOptions) {
    if (!opts || typeof opts.dir !== 'string' || opts.dir === '') throw new TypeError('FileStore: option dir is required');
    if (opts.flush !== undefined && opts.flush !== 'always' && opts.flush !== 'interval') throw new TypeError("FileStore: flush must be 'always' or 'interval'");
    this.dir = path.resolve(opts.dir);
    this.flush = opts.flush ?? 'always';
    this.flushIntervalMs = Math.max(10, opts.flushIntervalMs ?? 1000);
    this.compactThresholdBytes = Math.max(4096, opts.compactThresholdBytes ?? 8 * 1024 * 1024);
    this.warn = opts.onWarning ?? ((m) => process.emitWarning(m, 'FileStoreWarning'));
  }

  // ---------------------------------------------------------------------------------------------
  // lifecycle
  // ---------------------------------------------------------------------------------------------

  async open(): Promise<void> {
    if (this.isOpen) return;
    await fsp.mkdir(this.dir, { recursive: true });
    await this.acquireLock();
    try {
      this.state.clear();
      await fsp.rm(path.join(this.dir, `${SNAPSHOT}.tmp`), { force: true }).catch(() => undefined);
      const covered = await this.loadSnapshot();
      const logs = (await fsp.readdir(this.dir))
        .map((f) => LOG_RE.exec(f))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ gen: Number(m[1]), file: path.join(this.dir, m[0]) }))
        .sort((a, b) => a.gen - b.gen);
      let maxGen = covered;
      let replayed = 0;
      for (const l of logs) {
        maxGen = Math.max(maxGen, l.gen);
        if (l.gen <= covered) {
          await fsp.rm(l.file, { force: true }); // left over by a compaction interrupted after its rename
          continue;
        }
        const bytes = await this.replayLog(l.file);
        if (bytes === 0) await fsp.rm(l.file, { force: true }); // nothing in it (e.g. a start without writes)
        replayed += bytes;
      }
      this.gen = maxGen + 1;
      this.fh = await fsp.open(path.join(this.dir, logName(this.gen)), 'a');
      this.logSize = 0;
      await fsyncDir(this.dir);
      this.isOpen = true;
      this.closing = false;
      this.lastSync = Date.now();
      if (replayed > 0 || this.needsCompaction) {
        this.needsCompaction = false;
        // fold the replayed logs into a snapshot now, so they are not replayed at every start;
        // if that fails (disk full...), the logs stay and the store still opens
        await this.compactNow().catch((e: Error) => this.warn(`FileStore: compaction at open failed (the logs are kept): ${e.message}`));
      }
      if (this.flush === 'interval') {
        this.timer = setInterval(() => this.intervalSync(), this.flushIntervalMs);
        this.timer.unref();
      }
    } catch (e) {
      this.isOpen = false;
      await this.fh?.close().catch(() => undefined);
      this.fh = null;
      await this.releaseLock();
      throw e;
    }
  }

  async close(): Promise<void> {
    if (!this.isOpen || this.closing) return;
    this.closing = true;
    const done = this.doClose();
    closingHere.set(this.dir, done);
    try {
      await done;
    } finally {
      if (closingHere.get(this.dir) === done) closingHere.delete(this.dir);
    }
  }

  private async doClose(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.draining || this.compaction || this.syncing || this.pending.length) {
      if (this.pending.length && !this.draining) this.kick();
      await Promise.allSettled([this.draining, this.compaction, this.syncing]);
    }
    const fh = this.fh;
    this.fh = null;
    this.isOpen = false;
    if (fh) {
      if (this.dirty) await fh.datasync().catch((e: Error) => this.warn(`FileStore: final fdatasync failed: ${e.message}`));
      this.dirty = false;
      await fh.close().catch(() => undefined);
    }
    this.state.clear();
    await this.releaseLock();
  }

  private async acquireLock(): Promise<void> {
    const key = this.dir;
    const closing = closingHere.get(key);
    if (closing) await closing.catch(() => undefined);
    if (lockedHere.has(key)) throw new Error(`FileStore: directory ${this.dir} is already open in this process`);
    const lockPath = path.join(this.dir, LOCK);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await fsp.writeFile(lockPath, `${process.pid}\n`, { flag: 'wx' });
        lockedHere.add(key);
        this.lockKey = key;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let text: string;
      try {
        text = await fsp.readFile(lockPath, 'utf8');
      } catch {
        continue; // removed meanwhile: try again
      }
      const pid = Number.parseInt(text, 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
        throw new Error(`FileStore: directory ${this.dir} is in use by process ${pid} (lock file ${lockPath})`);
      }
      this.warn(`FileStore: removing stale lock of process ${text.trim() || '?'} in ${this.dir}`);
      await fsp.rm(lockPath, { force: true });
    }
    throw new Error(`FileStore: could not acquire lock file ${lockPath}`);
  }

  private async releaseLock(): Promise<void> {
    if (!this.lockKey) return;
    lockedHere.delete(this.lockKey);
    this.lockKey = '';
    await fsp.rm(path.join(this.dir, LOCK), { force: true }).catch(() => undefined);
  }

  // ---------------------------------------------------------------------------------------------
  // recovery
  // ---------------------------------------------------------------------------------------------

  /** Applies one data record to the in-memory state; throws on a malformed body. */
  private apply(type: RecordType, json: any, blob: Buffer): void {
    const r = new BlobReader(blob);
    switch (type) {
      case RecordType.RetainSet:
        this.state.setRetained(decMessage(json.m, r));
        break;
      case RecordType.RetainDelete:
        if (typeof json.t !== 'string') throw new Error('bad topic');
        this.state.deleteRetained(json.t);
        break;
      case RecordType.SessionSave:
        this.state.saveSession(decSession(json.s, r));
        break;
      case RecordType.SessionDelete:
        if (typeof json.c !== 'string') throw new Error('bad client id');
        this.state.deleteSession(json.c);
        break;
      case RecordType.Enqueue: {
        if (typeof json.c !== 'string' || !Array.isArray(json.q)) throw new Error('bad enqueue');
        this.state.enqueue(json.c, json.q.map((e: any) => decQueued(e, r)));
        break;
      }
      case RecordType.Patch:
        if (typeof json.c !== 'string' || typeof json.s !== 'number' || !json.f) throw new Error('bad patch');
        this.state.patch(json.c, json.s, json.f);
        break;
      case RecordType.Remove:
        if (typeof json.c !== 'string' || typeof json.s !== 'number') throw new Error('bad remove');
        this.state.remove(json.c, json.s);
        break;
      default:
        throw new Error(`unknown record type ${type}`);
    }
  }

  /** Loads snapshot.bin; returns the last log generation it covers (-1 without a usable snapshot). */
  private async loadSnapshot(): Promise<number> {
    const file = path.join(this.dir, SNAPSHOT);
    let buf: Buffer;
    try {
      buf = await fsp.readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return -1;
      throw e;
    }
    this.lastSnapshotBytes = buf.length;
    let covered = -1;
    let count = 0;
    let problem: string | null = null;
    let complete = false;
    const first = decodeRecord(buf, 0);
    if (typeof first === 'string' || first.type !== RecordType.SnapshotBegin || first.json.v !== SNAPSHOT_VERSION || !Number.isInteger(first.json.gen)) {
      problem = typeof first === 'string' ? `${first} at offset 0` : 'missing or unsupported snapshot header';
    } else {
      covered = first.json.gen;
      let off = first.end;
      while (off < buf.length) {
        const rec = decodeRecord(buf, off);
        if (typeof rec === 'string') {
          problem = `${rec} at offset ${off}`;
          break;
        }
        if (rec.type === RecordType.SnapshotEnd) {
          if (rec.json.n !== count) problem = `record count mismatch (${count} read, ${rec.json.n} expected)`;
          else if (rec.end !== buf.length) problem = `${buf.length - rec.end} trailing bytes`;
          else complete = true;
          break;
        }
        try {
          this.apply(rec.type, rec.json, rec.blob);
        } catch (e) {
          problem = `invalid record at offset ${off}: ${(e as Error).message}`;
          break;
        }
        count++;
        off = rec.end;
      }
      if (!complete && !problem) problem = 'snapshot end marker missing';
    }
    if (problem) {
      const aside = `${file}.corrupt-${Date.now()}`;
      await fsp.rename(file, aside);
      this.warn(
        `FileStore: corrupt snapshot in ${this.dir} (${problem}); moved aside as ${path.basename(aside)}; ` +
          `${count} valid record(s) before the damage kept, logs replayed`,
      );
      // keep what was read; replay every log still present (logs the snapshot covered are gone)
      this.needsCompaction = true;
      return -1;
    }
    return covered;
  }

  /** Replays one log; truncates it at the first torn/corrupt record. Returns the bytes replayed. */
  private async replayLog(file: string): Promise<number> {
    const buf = await fsp.readFile(file);
    let off = 0;
    while (off < buf.length) {
      const rec = decodeRecord(buf, off);
      let problem: string | null = null;
      if (typeof rec === 'string') problem = rec;
      else {
        try {
          this.apply(rec.type, rec.json, rec.blob);
        } catch (e) {
          problem = `invalid record: ${(e as Error).message}`;
        }
      }
      if (problem !== null || typeof rec === 'string') {
        this.warn(
          `FileStore: ${path.basename(file)} in ${this.dir}: ${problem} at offset ${off}; ` +
            `discarding the last ${buf.length - off} byte(s) of the log`,
        );
        await fsp.truncate(file, off);
        return off;
      }
      off = rec.end;
    }
    return off;
  }

  // ---------------------------------------------------------------------------------------------
  // writing: group commit
  // ---------------------------------------------------------------------------------------------

  private append(rec: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push(rec);
      this.waiters.push({ resolve, reject });
      this.counters.records++;
      if (!this.draining && !this.kickScheduled) {
        this.kickScheduled = true;
        // let the records of this synchronous burst join the batch
        queueMicrotask(() => this.kick());
      }
    });
  }

  private kick(): void {
    this.kickScheduled = false;
    if (this.draining || this.pending.length === 0) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      if (this.pending.length) this.kick();
    });
  }

  private async drain(): Promise<void> {
    if (this.syncing) await this.syncing.catch(() => undefined);
    while (this.pending.length) {
      const bufs = this.pending;
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      this.batch = this.writeBatch(bufs, waiters);
      await this.batch.catch(() => undefined);
      this.batch = null;
      if (!this.compaction && this.logSize > this.compactThresholdBytes && this.logSize > 2 * this.lastSnapshotBytes) {
        this.compaction = this.compactNow()
          .catch((e: Error) => this.warn(`FileStore: compaction failed (the logs are kept): ${e.message}`))
          .finally(() => (this.compaction = null));
      }
    }
  }

  /** Writes one batch to the current log, fdatasyncs per policy, settles its waiters. */
  private async writeBatch(bufs: Buffer[], waiters: Waiter[]): Promise<void> {
    const fh = this.fh;
    const start = this.logSize;
    try {
      if (!fh) throw new Error('FileStore is closed');
      const data = bufs.length === 1 ? bufs[0] : Buffer.concat(bufs);
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await fh.write(data, done, data.length - done, null);
        done += bytesWritten;
      }
      if (fh === this.fh) this.logSize += data.length;
      this.counters.batches++;
      if (this.flush === 'always' || Date.now() - this.lastSync >= this.flushIntervalMs) {
        await fh.datasync();
        this.counters.syncs++;
        this.lastSync = Date.now();
        this.dirty = false;
      } else this.dirty = true;
      for (const w of waiters) w.resolve();
    } catch (e) {
      // do not leave a partial batch in the log: later records would be cut off at recovery
      if (fh) await fh.truncate(start).catch(() => undefined);
      if (fh === this.fh) this.logSize = start;
      const err = e instanceof Error ? e : new Error(String(e));
      this.warn(`FileStore: write to ${this.dir} failed: ${err.message}`);
      for (const w of waiters) w.reject(err);
      throw err;
    }
  }

  private intervalSync(): void {
    if (!this.dirty || this.draining || this.syncing || !this.fh) return;
    const fh = this.fh;
    this.dirty = false;
    this.syncing = fh
      .datasync()
      .then(() => {
        this.counters.syncs++;
        this.lastSync = Date.now();
      })
      .catch((e: Error) => {
        this.dirty = true;
        this.warn(`FileStore: fdatasync failed: ${e.message}`);
      })
      .finally(() => (this.syncing = null));
  }

  // ---------------------------------------------------------------------------------------------
  // compaction
  // ---------------------------------------------------------------------------------------------

  /** Serializes the whole state (synchronously, so it is one consistent cut). */
  private snapshotRecords(coveredGen: number): Buffer[] {
    const out: Buffer[] = [encodeRecord(RecordType.SnapshotBegin, { v: SNAPSHOT_VERSION, gen: coveredGen, at: Date.now() })];
    for (const m of this.state.retained.values()) {
      const w = new BlobWriter();
      out.push(encodeRecord(RecordType.RetainSet, { m: encMessage(m, w) }, w.blobs));
    }
    for (const s of this.state.sessions.values()) {
      const w = new BlobWriter();
      out.push(encodeRecord(RecordType.SessionSave, { s: encSession(s, w) }, w.blobs));
    }
    for (const clientId of this.state.queues.keys()) {
      const list = this.state.queue(clientId);
      for (let i = 0; i < list.length; i += SNAPSHOT_CHUNK) {
        const w = new BlobWriter();
        const q = list.slice(i, i + SNAPSHOT_CHUNK).map((e) => encQueued(e, w));
        out.push(encodeRecord(RecordType.Enqueue, { c: clientId, q }, w.blobs));
      }
    }
    out.push(encodeRecord(RecordType.SnapshotEnd, { n: out.length - 1 }));
    return out;
  }

  /**
   * Switches writing to a new log generation, writes a snapshot covering every earlier generation,
   * then deletes the covered logs. The switch and the serialization happen in one synchronous step,
   * so every change is either in the snapshot or in the new log (or both: replaying a record whose
   * effect is already in the snapshot is harmless, records being absolute set/delete operations).
   */
  private async compactNow(): Promise<void> {
    const newGen = this.gen + 1;
    const newFh = await fsp.open(path.join(this.dir, logName(newGen)), 'a');
    // ---- synchronous cut ----
    const coveredGen = this.gen;
    const oldFh = this.fh;
    const records = this.snapshotRecords(coveredGen);
    const inflight = this.batch; // a batch being written to oldFh (its records are in `records`)
    this.fh = newFh;
    this.gen = newGen;
    this.logSize = 0;
    this.counters.compactions++;
    // -------------------------
    const tmp = path.join(this.dir, `${SNAPSHOT}.tmp`);
    try {
      await fsyncDir(this.dir);
      const fh = await fsp.open(tmp, 'w');
      let bytes = 0;
      try {
        for (let i = 0; i < records.length; i += 256) {
          const chunk = records.slice(i, i + 256);
          const want = chunk.reduce((a, b) => a + b.length, 0);
          const { bytesWritten } = await fh.writev(chunk);
          if (bytesWritten !== want) throw new Error('short write');
          bytes += want;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, path.join(this.dir, SNAPSHOT));
      await fsyncDir(this.dir);
      this.lastSnapshotBytes = bytes;
    } catch (e) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw e; // the old snapshot and every log stay: recovery replays them
    } finally {
      // the old log gets no more writes: close it once its last batch is done
      if (inflight) await inflight.catch(() => undefined);
      await oldFh?.close().catch(() => undefined);
    }
    // the snapshot covers every log up to coveredGen: delete them
    for (const f of await fsp.readdir(this.dir)) {
      const m = LOG_RE.exec(f);
      if (m && Number(m[1]) <= coveredGen) await fsp.rm(path.join(this.dir, f), { force: true });
    }
  }

  private checkOpen(): void {
    if (!this.isOpen || this.closing) throw new Error('FileStore is not open');
  }

  // ---------------------------------------------------------------------------------------------
  // BrokerStore
  // ---------------------------------------------------------------------------------------------

  async storeRetained(msg: BrokerMessage): Promise<void> {
    this.checkOpen();
    if (msg.payload.length === 0) {
      if (!this.state.retained.has(msg.topic)) return;
      this.state.deleteRetained(msg.topic);
      return this.append(encodeRecord(RecordType.RetainDelete, { t: msg.topic }));
    }
    this.state.setRetained(msg);
    const w = new BlobWriter();
    return this.append(encodeRecord(RecordType.RetainSet, { m: encMessage(msg, w) }, w.blobs));
  }

  async loadRetained(): Promise<BrokerMessage[]> {
    this.checkOpen();
    return Array.from(this.state.retained.values());
  }

  async saveSession(session: StoredSession): Promise<void> {
    this.checkOpen();
    this.state.saveSession(session);
    const w = new BlobWriter();
    return this.append(encodeRecord(RecordType.SessionSave, { s: encSession(session, w) }, w.blobs));
  }

  async loadSessions(): Promise<StoredSession[]> {
    this.checkOpen();
    return Array.from(this.state.sessions.values());
  }

  async deleteSession(clientId: string): Promise<void> {
    this.checkOpen();
    if (!this.state.sessions.has(clientId) && !this.state.queues.has(clientId)) return;
    this.state.deleteSession(clientId);
    return this.append(encodeRecord(RecordType.SessionDelete, { c: clientId }));
  }

  async enqueue(clientId: string, msgs: QueuedMessage[]): Promise<void> {
    this.checkOpen();
    if (msgs.length === 0) return;
    this.state.enqueue(clientId, msgs);
    const w = new BlobWriter();
    const q = msgs.map((m) => encQueued(m, w));
    return this.append(encodeRecord(RecordType.Enqueue, { c: clientId, q }, w.blobs));
  }

  async updateQueued(clientId: string, msg: QueuedMessage): Promise<void> {
    this.checkOpen();
    const cur = this.state.queues.get(clientId)?.entries.get(msg.seq);
    this.state.update(clientId, msg);
    if (cur && (cur.message === msg.message || (cur.message.topic === msg.message.topic && cur.message.payload === msg.message.payload))) {
      // same message: log only the delivery fields
      return this.append(encodeRecord(RecordType.Patch, { c: clientId, s: msg.seq, f: patchFields(msg) }));
    }
    const w = new BlobWriter();
    return this.append(encodeRecord(RecordType.Enqueue, { c: clientId, q: [encQueued(msg, w)] }, w.blobs));
  }

  async removeQueued(clientId: string, seq: number): Promise<void> {
    this.checkOpen();
    if (!this.state.queues.get(clientId)?.entries.has(seq)) return;
    this.state.remove(clientId, seq);
    return this.append(encodeRecord(RecordType.Remove, { c: clientId, s: seq }));
  }

  async loadQueue(clientId: string): Promise<QueuedMessage[]> {
    this.checkOpen();
    return this.state.queue(clientId);
  }
}
