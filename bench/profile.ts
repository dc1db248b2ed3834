/** Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per file. */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  ms: number;
  /** share of the busy (non-idle) time */
  share: number;
}

export interface ProfileSummary {
  file: string;
  busyMs: number;
  idleMs: number;
  functions: SelfTime[];
  files: SelfTime[];
  /** inclusive (self + callees) time of our broker's and mqtt-packet's functions */
  inclusive: SelfTime[];
}

function shortUrl(url: string, root: string): string {
  if (!url) return '';
  const p = url.startsWith('file://') ? url.slice(7) : url;
  if (p.startsWith(root)) return path.relative(root, p);
  return p;
}

export function summarizeProfile(file: string, root: string, top = 20): ProfileSummary {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of prof.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < prof.samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample: attribute it to this sample's node
    const d = prof.timeDeltas[i] ?? 0;
    selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + d);
  }
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)?.callFrame;
    if (!cf) continue;
    if (cf.functionName === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const url = shortUrl(cf.url, root);
    const key = `${cf.functionName || '(anonymous)'}${url ? ` ${url}:${cf.lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const fkey = url || cf.functionName;
    files.set(fkey, (files.get(fkey) ?? 0) + us);
  }
  // inclusive time: every sample counts once for each distinct function on its stack
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (cf: ProfileNode['callFrame']): string => {
    const url = shortUrl(cf.url, root);
    return `${cf.functionName || '(anonymous)'}${url ? ` ${url}:${cf.lineNumber + 1}` : ''}`;
  };
  const incl = new Map<string, number>();
  for (let i = 0; i < prof.samples.length; i++) {
    const d = prof.timeDeltas[i] ?? 0;
    const seen = new Set<string>();
    for (let id: number | undefined = prof.samples[i]; id !== undefined; id = parent.get(id)) {
      const cf = byId.get(id)?.callFrame;
      if (!cf || !/\/lib\/broker\/|mqtt-packet\//.test(cf.url)) continue;
      const key = keyOf(cf);
      if (seen.has(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + d);
    }
  }
  const rank = (m: Map<string, number>): SelfTime[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: busy ? us / busy : 0 }));
  return { file, busyMs: busy / 1000, idleMs: idle / 1000, functions: rank(fn), files: rank(files), inclusive: rank(incl) };
}

export function findProfiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f));
}
