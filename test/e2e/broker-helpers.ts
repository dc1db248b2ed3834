/**
 * Helpers for the mqtt5-broker tests: a real `node-red` process on a temporary user directory
 * (with a snapshot of this repository's built mqtt5-broker node installed as a module in the user
 * directory), its admin API, and self-signed TLS
 * material made with openssl at test time.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { freePort, ROOT, tmpDir, waitFor } from '../helpers/env';

export interface NodeRedProcess {
  port: number;
  url: string;
  userDir: string;
  proc: ChildProcess;
  /** Everything the process printed so far. */
  log(): string;
  /** Number of times "Started flows" was logged. */
  starts(): number;
  /** POST /flows with Node-RED-Deployment-Type; resolves when the new flows have started. */
  deploy(flows: unknown[], type?: 'full' | 'flows' | 'nodes'): Promise<void>;
  getFlows(): Promise<Array<Record<string, unknown>>>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL (a crash) and wait for exit. */
  kill9(): Promise<void>;
}

export function request(
  port: number,
  method: string,
  urlPath: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        headers: { ...(data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {}), ...headers },
        timeout: 20000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    if (data) req.write(data);
    req.end();
  });
}

/**
 * Copies the built mqtt5-broker node (entry files, lib/, icons, locales) into `dest`: other engineers
 * rebuild nodes/ at any time, so a running Node-RED must not load from it directly.
 */
export async function snapshotBrokerNode(dest: string): Promise<void> {
  // MQTT5HUB_NODES_DIR: test another build (e.g. a patched engine) without touching nodes/
  const src = process.env.MQTT5HUB_NODES_DIR ? path.resolve(process.env.MQTT5HUB_NODES_DIR) : path.join(ROOT, 'nodes');
  const entry = ['mqtt5-broker.js', 'mqtt5-broker.html'];
  await waitFor(() => entry.every((f) => fs.existsSync(path.join(src, f))) && fs.existsSync(path.join(src, 'lib', 'nodes', 'mqtt5-broker', 'index.js')), 60000, 'built nodes/mqtt5-broker (run npm run build)');
  fs.mkdirSync(dest, { recursive: true });
  for (const f of entry) fs.copyFileSync(path.join(src, f), path.join(dest, f));
  fs.cpSync(path.join(src, 'lib'), path.join(dest, 'lib'), { recursive: true });
  if (fs.existsSync(path.join(src, 'icons'))) fs.cpSync(path.join(src, 'icons'), path.join(dest, 'icons'), { recursive: true });
  for (const lang of fs.existsSync(path.join(src, 'locales')) ? fs.readdirSync(path.join(src, 'locales')) : []) {
    const f = path.join(src, 'locales', lang, 'mqtt5-broker.json');
    if (!fs.existsSync(f)) continue;
    fs.mkdirSync(path.join(dest, 'locales', lang), { recursive: true });
    fs.copyFileSync(f, path.join(dest, 'locales', lang, 'mqtt5-broker.json'));
  }
}

/** Starts Node-RED 4 from node_modules on 127.0.0.1 with a snapshot of the built mqtt5-broker node. */
export async function startNodeRed(opts: { userDir?: string; port?: number; flows?: unknown[] } = {}): Promise<NodeRedProcess> {
  const userDir = opts.userDir ?? tmpDir('mqtt5hub-nr-');
  const port = opts.port ?? (await freePort());
  // installed like a palette module: <userDir>/node_modules/<name>/{package.json,nodes/...}
  const moduleDir = path.join(userDir, 'node_modules', 'node-red-contrib-mqtt5-hub');
  const nodesDir = path.join(moduleDir, 'nodes');
  if (!fs.existsSync(path.join(nodesDir, 'mqtt5-broker.js'))) {
    await snapshotBrokerNode(nodesDir);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, any>;
    fs.writeFileSync(
      path.join(moduleDir, 'package.json'),
      JSON.stringify({ name: pkg.name, version: pkg.version, keywords: ['node-red'], 'node-red': { version: '>=3.0.0', nodes: { 'mqtt5-broker': 'nodes/mqtt5-broker.js' } } }, null, 2),
    );
  }
  const settings = `module.exports = {
  uiHost: '127.0.0.1',
  uiPort: ${port},
  flowFile: 'flows.json',
  credentialSecret: 'mqtt5-hub-test-secret',
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { tours: false, projects: { enabled: false } },
  diagnostics: { enabled: false },
  runtimeState: { enabled: false },
  telemetry: { enabled: false },
  externalModules: { autoInstall: false, palette: { allowInstall: false } },
};
`;
  fs.writeFileSync(path.join(userDir, 'settings.js'), settings);
  if (opts.flows) fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(opts.flows));
  const red = path.join(ROOT, 'node_modules', 'node-red', 'red.js');
  const proc = spawn(process.execPath, [red, '-u', userDir, '-p', String(port), '-s', path.join(userDir, 'settings.js')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // the node snapshot lives outside the repository: let it resolve the repository's dependencies
    env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules'), NODE_RED_ENABLE_PROJECTS: 'false' },
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const starts = (): number => (out.match(/Started flows/g) ?? []).length;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));

  await waitFor(
    () => {
      if (proc.exitCode !== null) throw new Error(`node-red exited early:\n${out}`);
      return starts() >= 1 || /Starting flows/.test(out) ? request(port, 'GET', '/flows').then((r) => r.status === 200) : false;
    },
    45000,
    'node-red to start',
  ).catch((e: Error) => {
    proc.kill('SIGKILL');
    throw new Error(`${e.message}\n--- node-red output ---\n${out}`);
  });

  const inst: NodeRedProcess = {
    port,
    url: `http://127.0.0.1:${port}`,
    userDir,
    proc,
    log: () => out,
    starts,
    async deploy(flows, type = 'full') {
      const before = starts();
      const r = await request(port, 'POST', '/flows', flows, { 'Node-RED-Deployment-Type': type, 'Node-RED-API-Version': 'v1' });
      if (r.status !== 204 && r.status !== 200) throw new Error(`deploy failed: HTTP ${r.status} ${r.body}`);
      await waitFor(() => starts() > before, 30000, 'flows to restart after deploy').catch((e: Error) => {
        throw new Error(`${e.message}\n--- node-red output ---\n${out}`);
      });
    },
    async getFlows() {
      const r = await request(port, 'GET', '/flows', undefined, { 'Node-RED-API-Version': 'v1' });
      if (r.status !== 200) throw new Error(`GET /flows: HTTP ${r.status}`);
      return JSON.parse(r.body) as Array<Record<string, unknown>>;
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(t);
    },
    async kill9() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGKILL');
      await exited;
    },
  };
  return inst;
}

export interface TlsFiles {
  dir: string;
  ca: string;
  serverKey: string;
  serverCert: string;
  clientKey: string;
  clientCert: string;
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with openssl. */
export function makeTlsFiles(openssl: string): TlsFiles {
  const dir = tmpDir('mqtt5hub-tls-');
  const f = (n: string): string => path.join(dir, n);
  const run = (args: string[]): void => {
    execFileSync(openssl, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=mqtt5-hub test CA']);
  fs.writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost']);
  run(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '2', '-extfile', f('server.ext')]);
  run(['req', ...ec, '-keyout', f('client.key'), '-out', f('client.csr'), '-subj', '/CN=device-1']);
  run(['x509', '-req', '-in', f('client.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('client.crt'), '-days', '2']);
  return { dir, ca: f('ca.crt'), serverKey: f('server.key'), serverCert: f('server.crt'), clientKey: f('client.key'), clientCert: f('client.crt') };
}
