/**
 * `npm run bench`: the same load against this project's broker, Aedes and Mosquitto, each a
 * separate process on 127.0.0.1, driven by one load-generator process (bench/loadgen.ts).
 *
 *   npm run bench -- --runs 3 --only fanin,qos1 --brokers ours,mosquitto
 *
 * Every figure is the median of --runs runs; each run starts a fresh broker process, warms up,
 * measures for --measure ms and stops everything. Results also go to bench-results/*.json.
 */
import { execFileSync, fork, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BrokerName, RunningBroker, startBroker, findMosquitto, ROOT, OUR_CLI } from './brokers';
import type { RunRequest, RunResult, Scenario } from './loadgen';
import { summarizeProfile, findProfiles, ProfileSummary } from './profile';

const ALL_SCENARIOS: Scenario[] = ['fanin', 'fanout', 'qos1', 'qos2', 'shared', 'conn'];
const ALL_BROKERS: BrokerName[] = ['ours', 'aedes', 'mosquitto'];
const KNOWN_BROKERS: BrokerName[] = ['ours', 'alt', 'aedes', 'mosquitto'];

const TITLES: Record<Scenario, string> = {
  fanin: 'fan-in: 10 publishers -> 1 wildcard subscriber, QoS 0 (deliveries/s)',
  fanout: 'fan-out: 1 publisher -> 50 subscribers, QoS 0 (deliveries/s)',
  qos1: 'QoS 1 round trip, 100 in flight (deliveries/s)',
  qos2: 'QoS 2 round trip, 100 in flight (deliveries/s)',
  shared: 'shared subscription $share group of 4, QoS 0 (deliveries/s)',
  conn: 'connection storm (connects/s)',
};

export interface Options {
  runs: number;
  only: Scenario[];
  brokers: BrokerName[];
  warmupMs: number;
  measureMs: number;
  clients: number;
  concurrency: number;
  connWarmup: number;
  payload: number;
  profile: boolean;
  outDir: string;
  altCli?: string;
  ourCli?: string;
}

function usage(): string {
  return [
    'usage: npm run bench -- [options]',
    `  --runs N            runs per figure, median reported (default 3, min 1)`,
    `  --only LIST         scenarios: ${ALL_SCENARIOS.join(',')} (default all)`,
    `  --brokers LIST      ${ALL_BROKERS.join(',')} (default all available)`,
    '  --measure MS        measure window per run (default 3000)',
    '  --warmup MS         warm-up before the window (default 1000)',
    '  --clients N         connection storm size (default 2000)',
    '  --concurrency N     connection storm: CONNECTs outstanding at once (default 50)',
    '  --conn-warmup N     connection storm: clients that connect and leave first (JIT warm-up for a steady-state rate; skews the memory figure: freed memory is reused; default 0)',
    '  --payload BYTES     PUBLISH payload size (default 64)',
    '  --profile           our broker only, under node --cpu-prof; prints top self-time functions',
    '  --out DIR           results directory (default bench-results)',
    '  --alt-cli PATH      also run "alt": our broker CLI from another build (A/B of an engine change)',
    '  --cli PATH          run "ours" from this CLI instead of nodes/lib/broker/cli.js',
    '  --no-build          do not rebuild a stale nodes/lib/broker',
  ].join('\n');
}

export function parseArgs(argv: string[]): Options {
  const o: Options = {
    runs: 3, only: ALL_SCENARIOS.slice(), brokers: ALL_BROKERS.slice(), warmupMs: 1000, measureMs: 3000,
    clients: 2000, concurrency: 50, connWarmup: 0, payload: 64, profile: false, outDir: path.join(ROOT, 'bench-results'),
  };
  const list = <T extends string>(v: string | undefined, allowed: T[], what: string): T[] => {
    const items = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    for (const i of items) if (!allowed.includes(i as T)) throw new Error(`unknown ${what} '${i}' (${allowed.join(', ')})`);
    if (!items.length) throw new Error(`--${what === 'scenario' ? 'only' : 'brokers'} needs a list`);
    return items as T[];
  };
  const num = (v: string | undefined, name: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`${name} needs a number >= ${min}`);
    return Math.floor(n);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const val = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--runs': o.runs = num(val(), flag, 1); break;
      case '--only': o.only = list(val(), ALL_SCENARIOS, 'scenario'); break;
      case '--brokers': o.brokers = list(val(), KNOWN_BROKERS, 'broker'); break;
      case '--measure': o.measureMs = num(val(), flag, 200); break;
      case '--warmup': o.warmupMs = num(val(), flag, 0); break;
      case '--clients': o.clients = num(val(), flag, 1); break;
      case '--concurrency': o.concurrency = num(val(), flag, 1); break;
      case '--conn-warmup': o.connWarmup = num(val(), flag, 0); break;
      case '--payload': o.payload = num(val(), flag, 0); break;
      case '--profile': o.profile = true; break;
      case '--out': o.outDir = path.resolve(val() ?? ''); break;
      case '--alt-cli': o.altCli = path.resolve(val() ?? ''); break;
      case '--cli': o.ourCli = path.resolve(val() ?? ''); break;
      case '--no-build': break; // handled by scripts/bench.js
      case '-h': case '--help': process.stdout.write(usage() + '\n'); process.exit(0); break;
      default: throw new Error(`unknown option ${a}\n${usage()}`);
    }
  }
  if (o.altCli && !o.brokers.includes('alt')) o.brokers.splice(1, 0, 'alt');
  if (o.profile) o.brokers = o.brokers.filter((b) => b === 'ours' || b === 'alt');
  return o;
}

/** The load generator as a child process, so that its CPU time is measured on its own. */
class Generator {
  private proc: ChildProcess;
  private seq = 0;
  private waiting = new Map<number, { resolve: (r: RunResult) => void; reject: (e: Error) => void }>();

  constructor() {
    this.proc = fork(path.join(__dirname, 'loadgen.ts'), [], {
      execArgv: ['--require', require.resolve('tsx/cjs')],
      env: { ...process.env, MQTT5HUB_LOADGEN: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('message', (m: { id: number; result?: RunResult; error?: string }) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.result) w.resolve(m.result);
      else w.reject(new Error(m.error ?? 'load generator failed'));
    });
    this.proc.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`load generator exited (${code})`));
      this.waiting.clear();
    });
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  run(req: RunRequest): Promise<RunResult> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.proc.send({ id, req });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.proc.exitCode !== null) return resolve();
      this.proc.once('exit', () => resolve());
      this.proc.disconnect();
      setTimeout(() => this.proc.kill('SIGKILL'), 3000).unref();
    });
  }
}

export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface Cell {
  broker: BrokerName;
  scenario: Scenario;
  runs: RunResult[];
  errors: string[];
  na?: string;
}

const fmtRate = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fmtPct = (n: number): string => (Number.isFinite(n) ? `${Math.round(n * 100)}%` : 'n/a');
const fmtX = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}x` : 'n/a');
const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

function cellMedian(c: Cell | undefined, f: (r: RunResult) => number): number {
  return c && c.runs.length ? median(c.runs.map(f)) : NaN;
}

function printScenario(sc: Scenario, cells: Cell[]): string[] {
  const lines = [`\n${TITLES[sc]}`];
  const get = (b: BrokerName): Cell | undefined => cells.find((c) => c.broker === b);
  const rate = (b: BrokerName): number => cellMedian(get(b), (r) => r.rate);
  // efficiency: deliveries (connects) per second of broker CPU; robust to a machine shared with
  // other work, where no broker gets a whole core
  const eff = (b: BrokerName): number => cellMedian(get(b), (r) => (r.brokerCpu > 0 ? r.rate / r.brokerCpu : NaN));
  lines.push(
    `  ${pad('broker', 10)}${lpad('median', 11)}  ${pad('runs', 28)}${lpad('/aedes', 8)}${lpad('/mosq', 8)}` +
      `${lpad('broker CPU', 12)}${lpad('gen CPU', 9)}${lpad('per CPU-s', 12)}${lpad('/aedes', 8)}${lpad('/mosq', 8)}` +
      `${sc === 'conn' ? lpad('KiB/conn', 10) + lpad('marginal', 10) : ''}  notes`,
  );
  for (const c of cells) {
    if (c.na || !c.runs.length) {
      lines.push(`  ${pad(c.broker, 10)}${lpad('n/a', 11)}  ${c.na ?? c.errors[0] ?? 'no result'}`);
      continue;
    }
    const r = rate(c.broker);
    const runs = c.runs.map((x) => fmtRate(x.rate)).join(' ');
    const notes: string[] = [];
    const gen = cellMedian(c, (x) => x.genCpu);
    if (gen > 0.85) notes.push('generator near one core: figure is a lower bound');
    const lost = c.runs.reduce((s, x) => s + x.lost, 0);
    if (lost) notes.push(`${lost} deliveries lost`);
    const stalls = c.runs.reduce((s, x) => s + x.stalls, 0);
    if (stalls) notes.push(`${stalls} stall(s)`);
    if (sc === 'conn') {
      const failed = c.runs.reduce((s, x) => s + (x.failed ?? 0), 0);
      if (failed) notes.push(`${failed} connects failed`);
    }
    if (c.runs[0].perSubscriber) notes.push(`split ${c.runs[c.runs.length - 1].perSubscriber?.join('/')}`);
    if (c.broker === 'alt') notes.push(`${fmtX(r / rate('ours'))} of ours`);
    if (c.errors.length) notes.push(`${c.errors.length} failed run(s): ${c.errors[0]}`);
    lines.push(
      `  ${pad(c.broker, 10)}${lpad(fmtRate(r), 11)}  ${pad(runs, 28)}` +
        `${lpad(c.broker === 'aedes' ? '' : fmtX(r / rate('aedes')), 8)}` +
        `${lpad(c.broker === 'mosquitto' ? '' : fmtX(r / rate('mosquitto')), 8)}` +
        `${lpad(fmtPct(cellMedian(c, (x) => x.brokerCpu)), 12)}${lpad(fmtPct(gen), 9)}` +
        `${lpad(fmtRate(eff(c.broker)), 12)}` +
        `${lpad(c.broker === 'aedes' ? '' : fmtX(eff(c.broker) / eff('aedes')), 8)}` +
        `${lpad(c.broker === 'mosquitto' ? '' : fmtX(eff(c.broker) / eff('mosquitto')), 8)}` +
        `${sc === 'conn' ? lpad(cellMedian(c, (x) => x.rssPerConnKiB ?? NaN).toFixed(1), 10) : ''}` +
        `${sc === 'conn' ? lpad(cellMedian(c, (x) => x.rssMarginalKiB ?? NaN).toFixed(1), 10) : ''}` +
        `  ${notes.join('; ')}`,
    );
  }
  return lines;
}

interface Target {
  what: string;
  value: number;
  goal: number;
  pass: boolean;
  /** the same ratio per second of broker CPU */
  perCpu?: number;
}

function targets(all: Cell[]): Target[] {
  const rate = (sc: Scenario, b: BrokerName): number =>
    cellMedian(all.find((c) => c.scenario === sc && c.broker === b), (r) => r.rate);
  const out: Target[] = [];
  const eff = (sc: Scenario, b: BrokerName): number =>
    cellMedian(all.find((c) => c.scenario === sc && c.broker === b), (r) => (r.brokerCpu > 0 ? r.rate / r.brokerCpu : NaN));
  const ratio = (sc: Scenario, vs: BrokerName, goal: number, label: string): void => {
    const v = rate(sc, 'ours') / rate(sc, vs);
    const perCpu = eff(sc, 'ours') / eff(sc, vs);
    if (Number.isFinite(v)) out.push({ what: label, value: v, goal, pass: v >= goal, perCpu });
  };
  ratio('fanin', 'mosquitto', 2, 'fan-in >= 2x Mosquitto');
  ratio('fanout', 'mosquitto', 4, 'fan-out >= 4x Mosquitto');
  ratio('qos1', 'mosquitto', 2, 'QoS 1 >= 2x Mosquitto');
  ratio('conn', 'aedes', 3, 'connection storm >= 3x Aedes');
  const mem = cellMedian(all.find((c) => c.scenario === 'conn' && c.broker === 'ours'), (r) => r.rssPerConnKiB ?? NaN);
  if (Number.isFinite(mem)) out.push({ what: 'broker memory <= 12 KiB per idle connection', value: mem, goal: 12, pass: mem <= 12 });
  return out;
}

/** HEAD and whether src/broker differs from it (the numbers belong to that code). */
function gitCommit(): { head?: string; brokerDirty?: boolean } {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src/broker'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { head, brokerDirty: dirty.length > 0 };
  } catch {
    return {};
  }
}

export async function main(argv: string[]): Promise<number> {
  const opts = parseArgs(argv);
  const available = opts.brokers.filter((b) => {
    if (b === 'ours' && !fs.existsSync(opts.ourCli ?? OUR_CLI)) {
      process.stderr.write(`bench: skipping our broker: ${path.relative(ROOT, opts.ourCli ?? OUR_CLI)} missing (npm run build)\n`);
      return false;
    }
    if (b === 'alt' && !opts.altCli) {
      process.stderr.write('bench: skipping alt: no --alt-cli given\n');
      return false;
    }
    if (b === 'mosquitto' && !findMosquitto()) {
      process.stderr.write('bench: skipping mosquitto: not installed (apt-get install mosquitto)\n');
      return false;
    }
    return true;
  });
  if (!available.length) throw new Error('no broker to benchmark');
  fs.mkdirSync(opts.outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const profRoot = path.join(opts.outDir, `profiles-${stamp}`);

  process.stdout.write(
    `bench: ${opts.only.join(',')} x ${available.join(',')}, ${opts.runs} run(s), ` +
      `${opts.warmupMs} ms warm-up + ${opts.measureMs} ms window, payload ${opts.payload} B, ` +
      `${os.cpus().length} cores, node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n` +
      'CPU = share of one core during the window (broker process incl. its threads / load generator); ' +
      'per CPU-s = deliveries (connects) per second of broker CPU time\n',
  );

  const gen = new Generator();
  const cells: Cell[] = [];
  const profiles: Record<string, ProfileSummary> = {};
  let current: RunningBroker | null = null;
  const onSignal = (): void => {
    void current?.stop();
    void gen.stop();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const allLines: string[] = [];
  try {
    for (const sc of opts.only) {
      const scCells: Cell[] = available.map((b) => ({ broker: b, scenario: sc, runs: [], errors: [] }));
      for (let run = 1; run <= opts.runs; run++) {
        for (const cell of scCells) {
          if (sc === 'shared' && cell.broker === 'aedes') {
            cell.na = 'Aedes 1.2 has no shared subscriptions';
            continue;
          }
          const profDir = opts.profile ? path.join(profRoot, `${sc}-${run}${cell.broker === 'alt' ? '-alt' : ''}`) : undefined;
          const label = `${sc} run ${run}/${opts.runs} ${cell.broker}`;
          process.stdout.write(`  ${pad(label, 34)}`);
          try {
            current = await startBroker(cell.broker, { cpuProfDir: profDir, altCli: opts.altCli, ourCli: opts.ourCli });
            const res = await gen.run({
              scenario: sc,
              port: current.port,
              brokerPid: current.pid,
              // MQTT 3.1.1 where all three compare; shared subscriptions are an MQTT 5 feature
              version: sc === 'shared' ? 5 : 4,
              warmupMs: sc === 'conn' ? 0 : opts.warmupMs,
              measureMs: opts.measureMs,
              tag: `b${process.pid}r${run}${sc}`,
              payloadSize: opts.payload,
              clients: opts.clients,
              concurrency: opts.concurrency,
              connWarmup: opts.connWarmup,
            });
            cell.runs.push(res);
            process.stdout.write(
              `${lpad(fmtRate(res.rate), 10)}/s  broker ${fmtPct(res.brokerCpu)}  gen ${fmtPct(res.genCpu)}` +
                `${res.rssPerConnKiB !== undefined ? `  ${res.rssPerConnKiB.toFixed(1)} KiB/conn (marginal ${res.rssMarginalKiB?.toFixed(1)})` : ''}` +
                `${res.connectMs ? `  connect p50 ${res.connectMs.p50.toFixed(1)} p99 ${res.connectMs.p99.toFixed(1)} max ${res.connectMs.max.toFixed(0)} ms` : ''}\n`,
            );
          } catch (err) {
            const msg = (err as Error).message.split('\n')[0];
            cell.errors.push(msg);
            process.stdout.write(`FAILED: ${msg}\n`);
          } finally {
            if (current) {
              if (current.proc.exitCode !== null && current.proc.exitCode !== 0) {
                process.stdout.write(`    ${cell.broker} exited with ${current.proc.exitCode}: ${current.output().slice(-300)}\n`);
              }
              await current.stop();
              current = null;
            }
          }
          if (profDir) {
            for (const f of findProfiles(profDir)) {
              profiles[`${sc}-${run}${cell.broker === 'alt' ? '-alt' : ''}`] = summarizeProfile(f, ROOT);
            }
          }
        }
      }
      const lines = printScenario(sc, scCells);
      allLines.push(...lines);
      process.stdout.write(lines.join('\n') + '\n');
      cells.push(...scCells);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await gen.stop();
  }

  const t = targets(cells);
  if (t.length) {
    const lines = ['\ntargets (our broker, same run; preliminary on a shared machine):'];
    for (const x of t) {
      lines.push(
        `  ${x.pass ? 'PASS' : 'MISS'}  ${pad(x.what, 46)} ${x.what.includes('KiB') ? `${x.value.toFixed(1)} KiB` : fmtX(x.value)}` +
          `${x.perCpu !== undefined ? `   (per broker CPU-s: ${fmtX(x.perCpu)})` : ''}`,
      );
    }
    allLines.push(...lines);
    process.stdout.write(lines.join('\n') + '\n');
  }
  if (opts.profile) {
    for (const [key, p] of Object.entries(profiles)) {
      const lines = [`\nprofile ${key}: ${path.relative(ROOT, p.file)} (busy ${Math.round(p.busyMs)} ms, idle ${Math.round(p.idleMs)} ms)`];
      lines.push('  top self time, functions:');
      for (const f of p.functions.slice(0, 15)) lines.push(`    ${lpad(fmtPct(f.share), 5)} ${lpad(Math.round(f.ms) + ' ms', 9)}  ${f.name}`);
      lines.push('  inclusive (self + callees), broker and mqtt-packet functions:');
      for (const f of p.inclusive.slice(0, 15)) lines.push(`    ${lpad(fmtPct(f.share), 5)} ${lpad(Math.round(f.ms) + ' ms', 9)}  ${f.name}`);
      lines.push('  by file:');
      for (const f of p.files.slice(0, 10)) lines.push(`    ${lpad(fmtPct(f.share), 5)} ${lpad(Math.round(f.ms) + ' ms', 9)}  ${f.name}`);
      process.stdout.write(lines.join('\n') + '\n');
    }
  }

  const file = path.join(opts.outDir, `bench-${stamp}.json`);
  const summary = cells.map((c) => ({
    scenario: c.scenario,
    broker: c.broker,
    medianRate: cellMedian(c, (r) => r.rate),
    medianBrokerCpu: cellMedian(c, (r) => r.brokerCpu),
    medianPerBrokerCpuSecond: cellMedian(c, (r) => (r.brokerCpu > 0 ? r.rate / r.brokerCpu : NaN)),
    medianGenCpu: cellMedian(c, (r) => r.genCpu),
    medianKiBPerConn: c.scenario === 'conn' ? cellMedian(c, (r) => r.rssPerConnKiB ?? NaN) : undefined,
    medianMarginalKiBPerConn: c.scenario === 'conn' ? cellMedian(c, (r) => r.rssMarginalKiB ?? NaN) : undefined,
    na: c.na,
    errors: c.errors,
  }));
  fs.writeFileSync(
    file,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg() },
        commit: gitCommit(),
        options: { ...opts, outDir: undefined },
        summary,
        targets: t,
        runs: cells.map((c) => ({ scenario: c.scenario, broker: c.broker, runs: c.runs, errors: c.errors })),
        profiles,
      },
      (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
      2,
    ) + '\n',
  );
  process.stdout.write(`\nresults: ${path.relative(ROOT, file)}\n`);
  const failedCells = cells.filter((c) => !c.na && !c.runs.length);
  return failedCells.length ? 1 : 0;
}
