/**
 * The pack as a user installs it: `npm pack`, `npm install <tarball>` into a fresh Node-RED user
 * directory, a real node-red 4.1.15 process, and its admin HTTP API.
 * Node types come from package.json "node-red".nodes and examples from examples/, so new ones are
 * covered without editing this file.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort, ROOT } from '../helpers/env';
import {
  errText,
  exampleNames,
  installedExamples,
  installPack,
  MODULE,
  NodeRedInstance,
  NodeSetInfo,
  nodeTypeProblem,
  ourNodeSets,
  packageNodeTypes,
  packTarball,
  PKG,
  readExample,
  relocatePorts,
  startNodeRed,
  tarballFiles,
} from './nodered';

describe('package: npm pack + install into a real Node-RED 4', function () {
  this.timeout(180000);
  let tgz: string;
  let files: string[];
  let nr: NodeRedInstance;
  let sets: Map<string, NodeSetInfo>;
  const types = packageNodeTypes();
  const examples = exampleNames();
  // what the installed package holds (the repository's examples/ may change while others work)
  let exDir: string;
  let packed: string[];

  before(async function () {
    tgz = await packTarball();
    files = await tarballFiles(tgz);
    const modules = await installPack();
    exDir = installedExamples(modules);
    packed = exampleNames(exDir);
    nr = await startNodeRed({ modules });
    sets = await ourNodeSets(nr);
  });

  after(async function () {
    if (nr) await nr.stop();
  });

  it('packs the built node files, icons, locales, examples and README, and no sources or tests', function () {
    for (const [type, js] of Object.entries(PKG['node-red'].nodes)) {
      assert.ok(files.includes(js), `tarball lacks ${js} (${type})`);
      assert.ok(files.includes(js.replace(/\.js$/, '.html')), `tarball lacks the editor html of ${type}`);
      assert.ok(files.includes(`nodes/lib/nodes/${type}/index.js`), `tarball lacks the runtime of ${type}`);
    }
    for (const icon of fs.readdirSync(path.join(ROOT, 'icons'))) {
      assert.ok(files.includes(`nodes/icons/${icon}`), `tarball lacks nodes/icons/${icon}`);
    }
    for (const ex of examples) assert.ok(files.includes(`examples/${ex}.json`), `tarball lacks examples/${ex}.json`);
    assert.ok(files.includes('README.md'), 'tarball lacks README.md');
    assert.ok(files.includes('package.json'));
    const leaked = files.filter((f) => /^(src|test|scripts|\.ci|node_modules)\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts'));
    assert.deepEqual(leaked, [], 'sources/tests must not be packed');
  });

  it('installs from the tarball with runtime dependencies only', async function () {
    const modules = await installPack();
    const installed = JSON.parse(fs.readFileSync(path.join(modules, MODULE, 'package.json'), 'utf8')) as { version: string };
    assert.equal(installed.version, PKG.version);
    for (const dep of Object.keys(PKG.dependencies ?? {})) {
      assert.ok(fs.existsSync(path.join(modules, dep, 'package.json')), `runtime dependency ${dep} not installed`);
    }
    for (const dev of ['typescript', 'mocha', 'node-red', 'eslint']) {
      assert.ok(!fs.existsSync(path.join(modules, dev)), `devDependency ${dev} must not be installed`);
    }
  });

  for (const type of types) {
    it(`registers node type ${type}: enabled, loaded, no error`, function () {
      assert.equal(nodeTypeProblem(sets, type), null);
    });
  }

  it('reports no load error for any of our node sets and lists no unknown types', async function () {
    const all = await nr.getJson<NodeSetInfo[]>('/nodes');
    const ours = all.filter((s) => s.module === MODULE);
    assert.ok(ours.length > 0, `${MODULE} does not appear in GET /nodes`);
    for (const s of ours) {
      assert.equal(s.err, undefined, `${s.id}: ${errText(s.err)}`);
      assert.equal(s.version, PKG.version);
    }
    const registered = ours.flatMap((s) => s.types).sort();
    assert.deepEqual(registered.filter((t) => !types.includes(t)), [], 'types registered but not in package.json');
    assert.doesNotMatch(nr.log(), /\[error\]|Failed to register|Error: /, 'node-red log shows errors');
  });

  it('serves the editor definition, template and help of every node type', async function () {
    const res = await nr.request('GET', '/nodes', undefined, { Accept: 'text/html' });
    assert.equal(res.status, 200);
    const html = await res.text();
    const problems: string[] = [];
    for (const type of types) {
      if (!new RegExp(`RED\\.nodes\\.registerType\\(\\s*['"]${type}['"]`).test(html)) problems.push(`${type}: no registerType`);
      if (!html.includes(`data-template-name="${type}"`)) problems.push(`${type}: no edit template`);
      if (!html.includes(`data-help-name="${type}"`)) problems.push(`${type}: no help`);
    }
    assert.deepEqual(problems, []);
  });

  it('serves the message catalogue of every node type', async function () {
    const problems: string[] = [];
    for (const type of types) {
      const set = sets.get(type);
      if (!set) {
        problems.push(`${type}: not registered`);
        continue;
      }
      const res = await nr.request('GET', `/locales/${set.id}?lng=en-US`);
      const body = res.ok ? ((await res.json()) as Record<string, unknown>) : {};
      if (!res.ok || Object.keys(body).length === 0) problems.push(`${type}: empty en-US catalogue (HTTP ${res.status})`);
    }
    assert.deepEqual(problems, []);
  });

  it('packs en-US and de message catalogues with the same keys for every node type', function () {
    const keys = (o: unknown, prefix = ''): string[] =>
      o && typeof o === 'object' && !Array.isArray(o)
        ? Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k))
        : [prefix];
    const localesDir = path.join(path.dirname(exDir), 'nodes', 'locales');
    const problems: string[] = [];
    for (const type of types) {
      const read = (lang: string): unknown => {
        const f = path.join(localesDir, lang, `${type}.json`);
        return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : null;
      };
      const en = read('en-US');
      const de = read('de');
      if (!en) problems.push(`${type}: no en-US catalogue`);
      if (!de) problems.push(`${type}: no de catalogue`);
      if (!en || !de) continue;
      const enKeys = new Set(keys(en));
      const deKeys = new Set(keys(de));
      const missing = [...enKeys].filter((k) => !deKeys.has(k));
      const extra = [...deKeys].filter((k) => !enKeys.has(k));
      if (missing.length) problems.push(`${type}: de lacks ${missing.join(', ')}`);
      if (extra.length) problems.push(`${type}: de has keys en-US lacks: ${extra.join(', ')}`);
    }
    assert.deepEqual(problems, []);
  });

  it('serves every icon of icons/ as an SVG', async function () {
    const listed = await nr.getJson<Record<string, string[]>>('/icons');
    const ours = listed[MODULE] ?? [];
    for (const icon of fs.readdirSync(path.join(ROOT, 'icons'))) {
      assert.ok(ours.includes(icon), `GET /icons does not list ${icon} for ${MODULE}: ${JSON.stringify(ours)}`);
      const res = await nr.request('GET', `/icons/${MODULE}/${icon}`, undefined, { Accept: '*/*' });
      assert.equal(res.status, 200, icon);
      assert.match(await res.text(), /<svg[\s\S]*viewBox="0 0 40 60"/, `${icon} is not a 40x60 svg`);
    }
  });

  it('lists every example of examples/ under Import > Examples (GET /library/examples/flows)', async function () {
    assert.ok(examples.length > 0, 'examples/ has no flows');
    const modules = await nr.getJson<string[]>('/library/examples/flows/');
    assert.ok(modules.includes(MODULE), `examples of ${MODULE} not listed: ${JSON.stringify(modules)}`);
    const listing: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      const entries = await nr.getJson<Array<string | { fn: string }>>(`/library/examples/flows/${MODULE}${rel}`);
      for (const e of entries) {
        if (typeof e === 'string') await walk(`${rel}/${e}`);
        else listing.push(`${rel}/${e.fn}`.slice(1));
      }
    };
    await walk('');
    assert.ok(packed.length > 0, 'the installed package has no examples');
    assert.deepEqual(listing.sort(), [...packed].sort());
  });

  it('serves each example as a flow whose node types are all registered in Node-RED', async function () {
    const registered = new Set((await nr.getJson<NodeSetInfo[]>('/nodes')).flatMap((s) => s.types));
    const configTypes = new Set(['tab', 'group', 'subflow', 'junction']);
    const problems: string[] = [];
    for (const name of packed) {
      const res = await nr.request('GET', `/library/examples/flows/${MODULE}/${name}`);
      assert.equal(res.status, 200, name);
      const served = JSON.parse(await res.text()) as unknown;
      const local = readExample(name, exDir);
      assert.deepEqual(served, local, `${name}: served flow differs from examples/${name}.json`);
      for (const n of local) {
        if (!configTypes.has(n.type) && !n.type.startsWith('subflow:') && !registered.has(n.type)) {
          problems.push(`${name}: node ${n.id} has unknown type ${n.type}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('deploys each example through POST /flows and starts it without errors', async function () {
    const problems: string[] = [];
    for (const name of packed) {
      const flow = relocatePorts(readExample(name, exDir), await freePort());
      const log = await nr.deploy(flow);
      if (/Waiting for missing types|Unknown type|\[error\]/.test(log)) problems.push(`${name}:\n${log}`);
      const flows = await nr.getJson<{ flows: Array<{ id: string }> }>('/flows');
      const deployed = new Set((Array.isArray(flows) ? (flows as Array<{ id: string }>) : flows.flows).map((n) => n.id));
      for (const n of flow) if (!deployed.has(n.id)) problems.push(`${name}: node ${n.id} missing after deploy`);
    }
    await nr.deploy([]);
    assert.deepEqual(problems, []);
  });
});
