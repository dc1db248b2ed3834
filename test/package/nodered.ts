/**
 * Harness for tests that meet the pack the way users do: `npm pack` the repository, install the
 * tarball into a fresh Node-RED user directory, and run a real `node-red` process against it.
 *
 * Used by test/package/install.test.ts, test/e2e/editor.test.ts and test/e2e/nodered5.test.ts.
 * Everything reads package.json "node-red".nodes and examples/ so new node types and new
 * examples are picked up without editing the tests.
 */
import { execFile, spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort, ROOT, tmpDir, waitFor } from '../helpers/env';

export interface PackageJson {
  name: string;
  version: string;
  license?: string;
  keywords?: string[];
  repository?: unknown;
  bugs?: unknown;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  files?: string[];
  'node-red': { version?: string; nodes: Record<string, string> };
  [key: string]: unknown;
}

export function readPackage(): PackageJson {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as PackageJson;
}

export const PKG = readPackage();
export const MODULE = PKG.name;

/** Every node type the package declares, in package.json order. */
export function packageNodeTypes(): string[] {
  return Object.keys(PKG['node-red'].nodes);
}

/**
 * Example flow files, relative to examples/ without ".json" (how Node-RED names them).
 * `dir`: another examples/ directory, e.g. the installed package's (see `installedExamples`).
 */
export function exampleNames(dir = path.join(ROOT, 'examples')): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) walk(path.join(d, e.name), rel ? `${rel}/${e.name}` : e.name);
      else if (e.name.endsWith('.json')) out.push((rel ? `${rel}/` : '') + e.name.slice(0, -5));
    }
  };
  walk(dir, '');
  return out;
}

export interface FlowNode {
  id: string;
  type: string;
  z?: string;
  [key: string]: unknown;
}

/** Reads and parses examples/<name>.json; throws a precise error when it is not a flow. */
export function readExample(name: string, dir = path.join(ROOT, 'examples')): FlowNode[] {
  const file = path.join(dir, `${name}.json`);
  const flow: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(flow)) throw new Error(`examples/${name}.json: top level is not an array of nodes`);
  flow.forEach((n: unknown, i) => {
    const node = n as Partial<FlowNode> | null;
    if (!node || typeof node !== 'object' || typeof node.id !== 'string' || typeof node.type !== 'string') {
      throw new Error(`examples/${name}.json: element ${i} has no string id/type`);
    }
  });
  return flow as FlowNode[];
}

/**
 * Example flows may bind well-known ports (1883 for the broker). Tests share the machine with
 * other test runs, so this rewrites every 1883 (number, numeric string, or ":1883" in a URL)
 * to `port`.
 */
export function relocatePorts(flow: FlowNode[], port: number): FlowNode[] {
  const fix = (v: unknown): unknown => {
    if (v === 1883) return port;
    if (v === '1883') return String(port);
    if (typeof v === 'string') return v.replace(/:1883\b/g, `:${port}`);
    if (Array.isArray(v)) return v.map(fix);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fix(x)]));
    }
    return v;
  };
  return fix(flow) as FlowNode[];
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  // npm run by `npm test` exports npm_config_* for the parent project; a nested npm must not see them.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  // ...nor resolve `npm` to the copy some devDependency puts into node_modules/.bin (npm 10 runs
  // `prepare` on pack even with --ignore-scripts).
  env.PATH = (env.PATH ?? '').split(path.delimiter).filter((p) => !p.includes(`node_modules${path.sep}.bin`)).join(path.delimiter);
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** examples/ of the installed package (what Node-RED serves), given installPack()'s node_modules. */
export function installedExamples(modules: string): string {
  return path.join(modules, MODULE, 'examples');
}

/** Built files every node type needs before the package can be packed. */
export function missingBuildFiles(): string[] {
  const missing: string[] = [];
  for (const [type, js] of Object.entries(PKG['node-red'].nodes)) {
    for (const f of [js, js.replace(/\.js$/, '.html')]) {
      if (!fs.existsSync(path.join(ROOT, f))) missing.push(`${f} (node type ${type})`);
    }
  }
  return missing;
}

let tarballPromise: Promise<string> | undefined;

/**
 * `npm pack` the repository once per test process (lifecycle scripts off: the suite builds first,
 * and a nested build would rewrite nodes/ under other running tests). Returns the .tgz path.
 */
export function packTarball(): Promise<string> {
  tarballPromise ??= (async () => {
    if (!fs.existsSync(path.join(ROOT, 'nodes'))) throw new Error('nodes/ is missing: run `npm run build` first');
    const stage = await stagePackage();
    const dest = tmpDir('mqtt5hub-pack-');
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dest], stage, 120000);
    fs.rmSync(stage, { recursive: true, force: true });
    const tgz = fs.readdirSync(dest).filter((f) => f.endsWith('.tgz'));
    if (tgz.length !== 1) throw new Error(`npm pack wrote ${tgz.length} tarballs into ${dest}`);
    return path.join(dest, tgz[0]!);
  })();
  return tarballPromise;
}

/**
 * Copies what `npm pack` reads (package.json and its "files") into a staging directory.
 * A build running at the same time (another terminal, another engineer's `npm test`) deletes and
 * rewrites the entry files in nodes/ while tsc runs: when a copy lacks an entry file, wait and
 * copy again (up to a minute) rather than pack a half-built tree.
 */
async function stagePackage(): Promise<string> {
  const entries = Object.entries(PKG['node-red'].nodes).flatMap(([type, js]) => [
    js,
    js.replace(/\.js$/, '.html'),
    `nodes/lib/nodes/${type}/index.js`,
  ]);
  const deadline = Date.now() + 60000;
  for (;;) {
    const stage = tmpDir('mqtt5hub-stage-');
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(stage, 'package.json'));
    for (const f of PKG.files ?? []) {
      const from = path.join(ROOT, f);
      if (fs.existsSync(from)) fs.cpSync(from, path.join(stage, f), { recursive: true, dereference: true });
    }
    const absent = entries.filter((f) => !fs.existsSync(path.join(stage, f)));
    // a file absent from the tree for good (node type not built yet) is reported by the tests
    const racing = absent.filter((f) => fs.existsSync(path.join(ROOT, f)) || /\.(js|html)$/.test(f) && isBuilding());
    if (racing.length === 0 || Date.now() > deadline) return stage;
    fs.rmSync(stage, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** True while some `scripts/build.js` process is running in this tree. */
function isBuilding(): boolean {
  try {
    for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (!cmd.includes('build.js')) continue;
        if (cmd.includes(path.join(ROOT, 'scripts', 'build.js'))) return true;
        if (cmd.includes('scripts/build.js') && fs.realpathSync(`/proc/${pid}/cwd`) === fs.realpathSync(ROOT)) return true;
      } catch {
        continue;
      }
    }
  } catch {
    return false;
  }
  return false;
}

/** Paths inside the tarball (without the leading "package/"). */
export async function tarballFiles(tgz: string): Promise<string[]> {
  const out = await run('tar', ['-tzf', tgz], path.dirname(tgz), 60000);
  return out.split('\n').filter(Boolean).map((l) => l.replace(/^package\//, ''));
}

const installs = new Map<string, Promise<string>>();

/**
 * Installs the tarball into a fresh directory the way the palette manager does (`npm install <tgz>`
 * in a user directory) and returns that directory's node_modules. Cached per npm binary.
 * `npmCmd` lets a caller use another Node's npm.
 */
export function installPack(npmCmd = 'npm'): Promise<string> {
  let p = installs.get(npmCmd);
  if (!p) {
    p = (async () => {
      const tgz = await packTarball();
      const dir = tmpDir('mqtt5hub-install-');
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'node-red-project', version: '0.0.1', private: true }, null, 2));
      await run(npmCmd, ['install', tgz, '--prefer-offline', '--no-audit', '--no-fund', '--omit=dev', '--no-package-lock'], dir, 180000);
      const nm = path.join(dir, 'node_modules');
      if (!fs.existsSync(path.join(nm, MODULE, 'package.json'))) throw new Error(`npm install ${tgz} did not install ${MODULE}`);
      return nm;
    })();
    installs.set(npmCmd, p);
  }
  return p;
}

export interface NodeRedOptions {
  /** node_modules directory with the pack installed (symlinked into the user dir). */
  modules: string;
  /** Node binary; default the one running the tests. */
  nodeBin?: string;
  /** Node-RED's red.js; default node_modules/node-red/red.js of this repo (4.1.15). */
  redJs?: string;
  port?: number;
  /** Initial flows file content. */
  flows?: FlowNode[];
  /** Extra settings merged into settings.js (JSON-serialisable). */
  settings?: Record<string, unknown>;
  /** Time to wait for "Started flows". */
  startTimeoutMs?: number;
}

export interface NodeRedInstance {
  url: string;
  port: number;
  userDir: string;
  proc: ChildProcess;
  /** Everything the process wrote so far (stdout + stderr). */
  log(): string;
  /** Log written after `mark` (a length of log() taken earlier). */
  logSince(mark: number): string;
  request(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  getJson<T = unknown>(urlPath: string): Promise<T>;
  /** POST /flows (full deploy) and wait until the runtime logs "Started flows" again. */
  deploy(flows: FlowNode[]): Promise<string>;
  stop(): Promise<void>;
}

export const CREDENTIAL_SECRET = 'mqtt5-hub-test-secret';

export async function startNodeRed(opts: NodeRedOptions): Promise<NodeRedInstance> {
  const port = opts.port ?? (await freePort());
  const userDir = tmpDir('mqtt5hub-nr-');
  fs.symlinkSync(opts.modules, path.join(userDir, 'node_modules'), 'dir');
  fs.writeFileSync(
    path.join(userDir, 'package.json'),
    JSON.stringify({ name: 'node-red-project', version: '0.0.1', private: true, dependencies: { [MODULE]: PKG.version } }, null, 2),
  );
  if (opts.flows) fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(opts.flows, null, 2));
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    flowFile: 'flows.json',
    credentialSecret: CREDENTIAL_SECRET,
    diagnostics: { enabled: false, ui: false },
    telemetry: { enabled: false, updateNotification: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    editorTheme: { tours: false, projects: { enabled: false } },
    logging: { console: { level: 'info', metrics: false, audit: false } },
    ...opts.settings,
  };
  const settingsFile = path.join(userDir, 'settings.js');
  fs.writeFileSync(settingsFile, `module.exports = ${JSON.stringify(settings, null, 2)};\n`);

  const redJs = opts.redJs ?? path.join(ROOT, 'node_modules', 'node-red', 'red.js');
  const proc = spawn(opts.nodeBin ?? process.execPath, [redJs, '-u', userDir, '-s', settingsFile, '-p', String(port)], {
    cwd: userDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_RED_ENABLE_PROJECTS: 'false' },
  });
  let log = '';
  proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const url = `http://127.0.0.1:${port}`;

  const countStarted = (s: string): number => (s.match(/Started flows/g) ?? []).length;
  const stop = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const done = (): void => {
        fs.rmSync(userDir, { recursive: true, force: true });
        resolve();
      };
      if (proc.exitCode !== null || proc.signalCode !== null) return done();
      const kill = setTimeout(() => proc.kill('SIGKILL'), 10000);
      proc.once('exit', () => {
        clearTimeout(kill);
        done();
      });
      proc.kill('SIGINT');
    });

  const request = (method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(url + urlPath, {
      method,
      headers: { Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  const instance: NodeRedInstance = {
    url,
    port,
    userDir,
    proc,
    log: () => log,
    logSince: (mark) => log.slice(mark),
    request,
    async getJson<T>(urlPath: string): Promise<T> {
      const res = await request('GET', urlPath);
      if (!res.ok) throw new Error(`GET ${urlPath}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    async deploy(flows: FlowNode[]): Promise<string> {
      const mark = log.length;
      const before = countStarted(log);
      const res = await request('POST', '/flows', flows, { 'Node-RED-Deployment-Type': 'full' });
      if (!res.ok) throw new Error(`POST /flows: HTTP ${res.status} ${await res.text()}`);
      await waitFor(() => countStarted(log) > before, 30000, `Node-RED to restart flows; log:\n${log.slice(mark)}`);
      return log.slice(mark);
    },
    stop,
  };

  try {
    await waitFor(
      () => {
        if (proc.exitCode !== null) throw new Error(`node-red exited with ${proc.exitCode}`);
        return /Server now running at/.test(log) && countStarted(log) > 0;
      },
      opts.startTimeoutMs ?? 60000,
      'node-red to start',
    );
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n--- node-red log ---\n${log}`, { cause: err });
  }
  return instance;
}

/** One entry of GET /nodes (Accept: application/json). */
export interface NodeSetInfo {
  id: string;
  name: string;
  types: string[];
  enabled: boolean;
  local?: boolean;
  user?: boolean;
  module: string;
  version?: string;
  err?: unknown;
}

export function errText(err: unknown): string {
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return JSON.stringify(err);
}

/** Node sets of our module, keyed by node type. */
export async function ourNodeSets(nr: NodeRedInstance): Promise<Map<string, NodeSetInfo>> {
  return indexNodeSets(await nr.getJson<NodeSetInfo[]>('/nodes'));
}

/** Our node sets (from GET /nodes) keyed by node type; sets that failed to load under `set:<name>`. */
export function indexNodeSets(sets: NodeSetInfo[]): Map<string, NodeSetInfo> {
  const byType = new Map<string, NodeSetInfo>();
  for (const s of sets) if (s.module === MODULE) for (const t of s.types) byType.set(t, s);
  // a set that failed to load lists no types; key it by its set name so callers see the error
  for (const s of sets) if (s.module === MODULE && s.types.length === 0) byType.set(`set:${s.name}`, s);
  return byType;
}

/** Describes why a node type is not usable in this runtime, or null when it is. */
export function nodeTypeProblem(sets: Map<string, NodeSetInfo>, type: string): string | null {
  const s = sets.get(type);
  if (!s) {
    const failed = sets.get(`set:${type}`);
    if (failed) return `${type}: node set failed to load: ${failed.err ? errText(failed.err) : 'no types registered'}`;
    return `${type}: not registered (is src/nodes/${type}/ built into nodes/${type}.js?)`;
  }
  if (s.err) return `${type}: load error: ${errText(s.err)}`;
  if (!s.enabled) return `${type}: node set is disabled`;
  return null;
}
