/**
 * Test environment helpers shared by every suite.
 *
 * A test that needs an external program (mosquitto, chromium, node@22...) calls `requireTool()`:
 * outside CI a missing tool skips the test with a note; with CI=true it fails, so CI can never
 * pass by skipping (.ci/run installs these tools).
 */
import { execFileSync } from 'node:child_process';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
export const ROOT = path.resolve(__dirname, '..', '..');

export function which(bin: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** Returns the tool's path; skips the test outside CI when missing; throws in CI. */
export function requireTool(ctx: Mocha.Context, bin: string, hint: string): string {
  const p = which(bin) ?? (fs.existsSync(bin) ? bin : null);
  if (p) return p;
  if (IN_CI) throw new Error(`${bin} is required in CI (${hint})`);
  ctx.skip();
  throw new Error('unreachable');
}

/** A free TCP port on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address() as net.AddressInfo;
      srv.close(() => resolve(addr.port));
    });
  });
}

/** A fresh temporary directory under the OS temp dir. */
export function tmpDir(prefix = 'mqtt5hub-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns truthy (or throws the last error after `timeoutMs`). */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await delay(20);
  }
}

/** mulberry32: a small seeded PRNG (numbers in [0, 1)), so generated test inputs reproduce from their seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
