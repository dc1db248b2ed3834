/**
 * Password hashing for broker users: scrypt (node:crypto, no native module), random salt.
 *
 * Stored format: `scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>`.
 * Default cost N=2^13, r=8, p=1 (8 MiB of memory): about 10-30 ms per verification on a desktop
 * CPU, a few times that on a Raspberry Pi. `verifyPasswordAsync` runs scrypt on the libuv thread
 * pool so that authentication never blocks the event loop; `verifyPassword` is the synchronous form.
 */
import * as crypto from 'node:crypto';

export const SCRYPT_DEFAULTS = { N: 8192, r: 8, p: 1, saltBytes: 16, keyBytes: 32 } as const;

/** Upper bounds accepted when parsing a hash (a hostile or mistyped hash must not exhaust memory). */
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;

export interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function isPow2(n: number): boolean {
  return n > 1 && (n & (n - 1)) === 0;
}

/** Parses `scrypt$N$r$p$salt$hash`; returns an error message instead of throwing. */
export function parsePasswordHash(text: string): ParsedHash | string {
  if (typeof text !== 'string') return 'password hash must be a string';
  const parts = text.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return 'password hash must have the form scrypt$N$r$p$salt$hash';
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (!Number.isInteger(N) || !isPow2(N) || N > MAX_N) return `password hash: N must be a power of two <= ${MAX_N}`;
  if (!Number.isInteger(r) || r < 1 || r > MAX_R) return `password hash: r must be 1..${MAX_R}`;
  if (!Number.isInteger(p) || p < 1 || p > MAX_P) return `password hash: p must be 1..${MAX_P}`;
  const b64 = /^[A-Za-z0-9+/]+={0,2}$/;
  if (!b64.test(parts[4]) || !b64.test(parts[5])) return 'password hash: salt and hash must be base64';
  const salt = Buffer.from(parts[4], 'base64');
  const hash = Buffer.from(parts[5], 'base64');
  if (salt.length < 8) return 'password hash: salt too short';
  if (hash.length < 16 || hash.length > 128) return 'password hash: hash length must be 16..128 bytes';
  return { N, r, p, salt, hash };
}

function scryptOptions(h: { N: number; r: number; p: number }): crypto.ScryptOptions {
  // maxmem must exceed 128 * N * r (node's default limit is 32 MiB)
  return { N: h.N, r: h.r, p: h.p, maxmem: 128 * h.N * h.r * 2 + 1024 * 1024 };
}

/** Hashes a password with a fresh random salt. */
export function hashPassword(password: string, cost: { N?: number; r?: number; p?: number } = {}): string {
  const N = cost.N ?? SCRYPT_DEFAULTS.N;
  const r = cost.r ?? SCRYPT_DEFAULTS.r;
  const p = cost.p ?? SCRYPT_DEFAULTS.p;
  if (!isPow2(N) || N > MAX_N || r < 1 || r > MAX_R || p < 1 || p > MAX_P) throw new RangeError('hashPassword: invalid scrypt cost');
  const salt = crypto.randomBytes(SCRYPT_DEFAULTS.saltBytes);
  const hash = crypto.scryptSync(Buffer.from(String(password), 'utf8'), salt, SCRYPT_DEFAULTS.keyBytes, scryptOptions({ N, r, p }));
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

function toBuf(password: string | Buffer): Buffer {
  return Buffer.isBuffer(password) ? password : Buffer.from(String(password), 'utf8');
}

/** Synchronous verification (constant-time comparison). False for a malformed hash. */
export function verifyPassword(password: string | Buffer, hash: string | ParsedHash): boolean {
  const h = typeof hash === 'string' ? parsePasswordHash(hash) : hash;
  if (typeof h === 'string') return false;
  const got = crypto.scryptSync(toBuf(password), h.salt, h.hash.length, scryptOptions(h));
  return crypto.timingSafeEqual(got, h.hash);
}

/** Asynchronous verification on the thread pool (used by authenticate). Never rejects. */
export function verifyPasswordAsync(password: string | Buffer, hash: string | ParsedHash): Promise<boolean> {
  const h = typeof hash === 'string' ? parsePasswordHash(hash) : hash;
  if (typeof h === 'string') return Promise.resolve(false);
  return new Promise((resolve) => {
    crypto.scrypt(toBuf(password), h.salt, h.hash.length, scryptOptions(h), (err, got) => {
      resolve(!err && crypto.timingSafeEqual(got, h.hash));
    });
  });
}
