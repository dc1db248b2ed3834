/**
 * Record format shared by the FileStore log and snapshot files.
 *
 *   offset 0  u32 LE  length L of everything after the 8-byte header (type + body)
 *   offset 4  u32 LE  CRC-32 (IEEE) of those L bytes
 *   offset 8  u8      record type
 *   offset 9  u32 LE  J = length of the JSON part
 *   offset 13 J bytes UTF-8 JSON (the record's fields; payloads replaced by their byte lengths)
 *   then      L-5-J bytes of binary blobs (message payloads, in the order the JSON names them)
 *
 * A record is valid only if it is complete, its CRC matches and its JSON parses; readers stop at
 * the first invalid record (a torn write at the tail after a crash, or corruption).
 */
import * as zlib from 'node:zlib';
import type { BrokerMessage, PublishProperties, QueuedMessage, StoredSession } from '../types';

export const enum RecordType {
  RetainSet = 1,
  RetainDelete = 2,
  SessionSave = 3,
  SessionDelete = 4,
  Enqueue = 5,
  /** change of delivery fields (messageId, state, qos, subscription ids) of an existing entry */
  Patch = 6,
  Remove = 7,
  SnapshotBegin = 100,
  SnapshotEnd = 101,
}

export const HEADER_BYTES = 8;
/** Upper bound of one record; larger lengths are treated as corruption. */
export const MAX_RECORD_BYTES = 512 * 1024 * 1024;

// --- CRC-32 ---------------------------------------------------------------------------------------
let table: Int32Array | null = null;
function crc32js(buf: Uint8Array): number {
  if (!table) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let c = -1;
  for (let i = 0; i < buf.length; i++) c = table[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
/** zlib.crc32 exists from Node 20.15 / 22.2; older Node (e.g. 18 on a Raspberry Pi) uses the table version. */
const nativeCrc = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
export const crc32: (buf: Uint8Array) => number = typeof nativeCrc === 'function' ? (b) => nativeCrc(b) >>> 0 : crc32js;
export const crc32Portable = crc32js;

// --- record framing -------------------------------------------------------------------------------
export function encodeRecord(type: RecordType, json: unknown, blobs: readonly Buffer[] = []): Buffer {
  const j = Buffer.from(JSON.stringify(json), 'utf8');
  let blobLen = 0;
  for (const b of blobs) blobLen += b.length;
  const total = 13 + j.length + blobLen;
  const buf = Buffer.allocUnsafe(total);
  buf.writeUInt32LE(total - HEADER_BYTES, 0);
  buf[8] = type;
  buf.writeUInt32LE(j.length, 9);
  j.copy(buf, 13);
  let off = 13 + j.length;
  for (const b of blobs) off += b.copy(buf, off);
  buf.writeUInt32LE(crc32(buf.subarray(HEADER_BYTES)), 4);
  return buf;
}

export interface DecodedRecord {
  type: RecordType;
  json: any;
  blob: Buffer;
  /** offset just after this record */
  end: number;
}

/** Decodes the record at `off`; returns a reason string when it is incomplete or invalid. */
export function decodeRecord(buf: Buffer, off: number): DecodedRecord | string {
  if (buf.length - off < HEADER_BYTES) return 'truncated record header';
  const len = buf.readUInt32LE(off);
  if (len < 5 || len > MAX_RECORD_BYTES) return `invalid record length ${len}`;
  const end = off + HEADER_BYTES + len;
  if (end > buf.length) return 'truncated record';
  const body = buf.subarray(off + HEADER_BYTES, end);
  if (crc32(body) !== buf.readUInt32LE(off + 4)) return 'CRC mismatch';
  const jlen = body.readUInt32LE(1);
  if (5 + jlen > body.length) return 'invalid JSON length';
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8', 5, 5 + jlen));
  } catch {
    return 'invalid JSON';
  }
  if (json === null || typeof json !== 'object') return 'invalid record body';
  return { type: body[0] as RecordType, json, blob: body.subarray(5 + jlen), end };
}

// --- message / session encoding -------------------------------------------------------------------
/** Collects blobs while encoding, hands them out in the same order while decoding. */
export class BlobWriter {
  readonly blobs: Buffer[] = [];
  add(b: Buffer): number {
    this.blobs.push(b);
    return b.length;
  }
}

export class BlobReader {
  private off = 0;
  constructor(private readonly blob: Buffer) {}
  take(n: number): Buffer {
    if (!Number.isInteger(n) || n < 0 || this.off + n > this.blob.length) throw new Error('blob out of range');
    // copy: the source is a whole file read into memory, which must not be kept alive by one payload
    const out = Buffer.from(this.blob.subarray(this.off, this.off + n));
    this.off += n;
    return out;
  }
}

interface EncMessage {
  t: string;
  n: number;
  q: number;
  r?: 1;
  p?: Record<string, unknown>;
  ra?: number;
  o?: string;
}

function encProps(p: PublishProperties): Record<string, unknown> {
  if (!p.correlationData) return p as Record<string, unknown>;
  return { ...p, correlationData: Buffer.from(p.correlationData).toString('base64') };
}

function decProps(p: Record<string, unknown>): PublishProperties {
  if (typeof p.correlationData === 'string') return { ...p, correlationData: Buffer.from(p.correlationData, 'base64') } as PublishProperties;
  return p as PublishProperties;
}

export function encMessage(m: BrokerMessage, w: BlobWriter): EncMessage {
  const e: EncMessage = { t: m.topic, n: w.add(m.payload), q: m.qos };
  if (m.retain) e.r = 1;
  if (m.properties) e.p = encProps(m.properties);
  if (m.receivedAt !== undefined) e.ra = m.receivedAt;
  if (m.origin !== undefined) e.o = m.origin;
  return e;
}

export function decMessage(e: EncMessage, r: BlobReader): BrokerMessage {
  if (!e || typeof e.t !== 'string') throw new Error('bad message');
  const m: BrokerMessage = { topic: e.t, payload: r.take(e.n), qos: e.q as 0 | 1 | 2, retain: e.r === 1 };
  if (e.p) m.properties = decProps(e.p);
  if (e.ra !== undefined) m.receivedAt = e.ra;
  if (e.o !== undefined) m.origin = e.o;
  return m;
}

/** The broker core's queued entries may name the $share subscription they came through; it is kept. */
type QueuedWithShare = QueuedMessage & { share?: string };

interface EncQueued {
  sh?: string;
  s: number;
  q: number;
  m: EncMessage;
  i?: number;
  st?: 'publish' | 'pubrel';
  si?: number[];
}

export function encQueued(q: QueuedMessage, w: BlobWriter): EncQueued {
  const e: EncQueued = { s: q.seq, q: q.qos, m: encMessage(q.message, w) };
  if (q.messageId !== undefined) e.i = q.messageId;
  if (q.state !== undefined) e.st = q.state;
  if (q.subscriptionIdentifiers !== undefined) e.si = q.subscriptionIdentifiers;
  const share = (q as QueuedWithShare).share;
  if (typeof share === 'string') e.sh = share;
  return e;
}

export function decQueued(e: EncQueued, r: BlobReader): QueuedMessage {
  if (!e || typeof e.s !== 'number') throw new Error('bad queued message');
  const q: QueuedMessage = { seq: e.s, qos: e.q as 0 | 1 | 2, message: decMessage(e.m, r) };
  if (e.i !== undefined) q.messageId = e.i;
  if (e.st !== undefined) q.state = e.st;
  if (e.si !== undefined) q.subscriptionIdentifiers = e.si;
  if (typeof e.sh === 'string') (q as QueuedWithShare).share = e.sh;
  return q;
}

/** Delivery fields of a queued entry (everything but seq and message), for Patch records. */
export function patchFields(q: QueuedMessage): Omit<QueuedMessage, 'seq' | 'message'> {
  const f: Omit<QueuedMessage, 'seq' | 'message'> = { qos: q.qos };
  if (q.messageId !== undefined) f.messageId = q.messageId;
  if (q.state !== undefined) f.state = q.state;
  if (q.subscriptionIdentifiers !== undefined) f.subscriptionIdentifiers = q.subscriptionIdentifiers;
  return f;
}

export function encSession(s: StoredSession, w: BlobWriter): Record<string, unknown> {
  if (!s.will) return s as unknown as Record<string, unknown>;
  return { ...s, will: { ...s.will, message: encMessage(s.will.message, w) } };
}

export function decSession(e: any, r: BlobReader): StoredSession {
  if (!e || typeof e.clientId !== 'string' || !Array.isArray(e.subscriptions)) throw new Error('bad session');
  if (!e.will) return e as StoredSession;
  return { ...e, will: { ...e.will, message: decMessage(e.will.message, r) } } as StoredSession;
}
