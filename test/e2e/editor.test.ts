/**
 * The Node-RED editor in a real browser (Chromium through playwright-core) against a real
 * node-red 4.1.15 with the packed tarball installed:
 *   - every node type of package.json is in the palette (config nodes: in the config node list)
 *   - every edit dialog opens, has an input for every property, and flags invalid values
 *   - every example is imported through Import > Examples > <module> and deployed; our nodes
 *     report a status and none is red
 * Screenshots go to $SCREENSHOT_DIR (npm run screenshots: docs/screenshots/) or a temp dir.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { chromium, BrowserContext, Page } from 'playwright-core';
import { freePort, requireTool, ROOT, tmpDir, waitFor } from '../helpers/env';
import { MosquittoInstance, startMosquitto } from '../helpers/mosquitto';
import { exampleNames, installedExamples, installPack, MODULE, NodeRedInstance, packageNodeTypes, readExample, startNodeRed } from '../package/nodered';

declare const RED: any;
declare const $: any;
declare const document: any;
declare const window: any;

/**
 * Values each dialog must refuse. Field = the node property (input #node-input-<field> or
 * #node-config-input-<field>). A missing field fails the test: keep this table in step with editor.js.
 */
const INVALID: Record<string, Array<{ field: string; value: string; why: string }>> = {
  'mqtt5-broker': [
    { field: 'tcpPort', value: '70000', why: 'port out of range' },
    { field: 'maxPacketSize', value: '10', why: 'below the MQTT minimum' },
  ],
  'mqtt5-client': [
    { field: 'broker', value: 'http://example.com', why: 'not an mqtt/mqtts/ws/wss URL' },
    { field: 'keepAlive', value: '70000', why: 'keep alive above 65535 s' },
  ],
  'mqtt5-in': [
    { field: 'topic', value: 'a/#/b', why: '# not last in the filter' },
    { field: 'shareGroup', value: 'g/1', why: 'share name with a /' },
  ],
  'mqtt5-out': [
    { field: 'topic', value: 'a/+/b', why: 'wildcard in a publish topic' },
    { field: 'messageExpiry', value: '-5', why: 'negative expiry' },
  ],
  'mqtt5-request': [
    { field: 'topic', value: 'x/#', why: 'wildcard in a request topic' },
    { field: 'timeout', value: '0', why: 'timeout must be > 0' },
  ],
  'thingsboard-telemetry': [
    { field: 'maxPacketSize', value: '100', why: 'below 256 bytes' },
    { field: 'propertyReserve', value: '70000', why: 'above 65535' },
  ],
};

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface TypeInfo {
  type: string;
  category: string;
  defaults: string[];
  paletteLabel: string;
}

describe('e2e: the Node-RED editor in Chromium', function () {
  this.timeout(120000);
  const types = packageNodeTypes();
  const shotDir = process.env.SCREENSHOT_DIR ? path.resolve(ROOT, process.env.SCREENSHOT_DIR) : tmpDir('mqtt5hub-shots-');
  let nr: NodeRedInstance | undefined;
  let ctx: BrowserContext | undefined;
  let page: Page;
  let profile: string;
  let examplesDir: string;
  let mosquitto: MosquittoInstance | undefined;
  const pageErrors: string[] = [];
  const defs = new Map<string, TypeInfo>();

  const shot = async (name: string, target?: { screenshot(o: { path: string }): Promise<unknown> }): Promise<void> => {
    fs.mkdirSync(shotDir, { recursive: true });
    await (target ?? page).screenshot({ path: path.join(shotDir, `${name}.png`) });
  };

  before(async function () {
    const chromiumBin = requireTool(this, process.env.CHROMIUM ?? '/usr/bin/chromium', 'apt-get install chromium');
    // stands in for the "external broker" of the examples (mqtt://127.0.0.1:1883)
    mosquitto = await startMosquitto(this);
    const modules = await installPack();
    examplesDir = installedExamples(modules);
    nr = await startNodeRed({ modules });
    profile = tmpDir('mqtt5hub-chromium-');
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumBin,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 900 },
    });
    // tsx (esbuild keepNames) wraps named functions in __name(); functions passed to evaluate() run in the page
    await ctx.addInitScript('window.__name = function (f) { return f; };');
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.setDefaultTimeout(20000);
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(nr.url);
    await page.waitForSelector('.red-ui-palette-node[data-palette-type="inject"]', { timeout: 60000 });
    // notifications ("Imported...", "Successfully deployed") would cover the screenshots
    await page.addStyleTag({ content: '#red-ui-notifications { display: none !important; }' });
    // the editor registers node definitions one module after another: wait for ours (a type that
    // never appears fails its own tests below)
    await page
      .waitForFunction((ts: string[]) => ts.every((t) => RED.nodes.getType(t)), types, { timeout: 30000 })
      .catch(() => undefined);
    for (const type of types) {
      const info = await page.evaluate((t: string) => {
        const d = RED.nodes.getType(t);
        if (!d) return null;
        const label = typeof d.paletteLabel === 'function' ? d.paletteLabel.call(d) : d.paletteLabel;
        return { type: t, category: d.category, defaults: Object.keys(d.defaults || {}), paletteLabel: label || t };
      }, type);
      if (info) defs.set(type, info);
    }
  });

  after(async function () {
    if (ctx) await ctx.close();
    if (mosquitto) await mosquitto.stop();
    if (nr) await nr.stop();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  });

  it('loads the editor without script errors', function () {
    assert.deepEqual(pageErrors, []);
  });

  for (const type of types) {
    it(`offers ${type} in the palette (config nodes: in the configuration node list)`, async function () {
      const def = defs.get(type);
      assert.ok(def, `${type} is not registered in the editor`);
      if (def.category === 'config') {
        // config nodes are not in the palette; they are added from a node's dialog or the config sidebar
        assert.equal(await page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`).count(), 0);
        return;
      }
      const el = page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`);
      await el.waitFor({ state: 'attached' });
      assert.equal(await el.count(), 1);
      const icon = await el.locator('.red-ui-palette-icon').getAttribute('style');
      assert.match(icon ?? '', /icons\//, `${type} palette entry has no icon`);
    });
  }

  it('shows our palette categories (screenshot palette.png)', async function () {
    const categories = new Set([...defs.values()].filter((d) => d.category !== 'config').map((d) => d.category));
    assert.ok(categories.size > 0, 'no palette node types registered');
    for (const cat of categories) {
      assert.equal(await page.locator(`#red-ui-palette-container-${cat}`).count(), 1, `palette category ${cat} missing`);
    }
    // the palette column filtered to our nodes
    const search = page.locator('#red-ui-palette-search input');
    await search.click();
    await search.pressSequentially('mqtt5', { delay: 20 });
    await page.waitForTimeout(500);
    const visible = await page.locator('.red-ui-palette-node:visible').evaluateAll((els) => els.map((e) => e.getAttribute('data-palette-type')));
    const ourMqtt = [...defs.values()].filter((d) => d.category !== 'config' && d.type.startsWith('mqtt5-')).map((d) => d.type);
    for (const t of ourMqtt) assert.ok(visible.includes(t), `palette search "mqtt5" does not show ${t}: ${visible.join(',')}`);
    await search.fill('');
    await search.press('Backspace');
    await page.waitForTimeout(300);
    // screenshot: our palette categories with only our nodes in them
    const ours = [...defs.values()].filter((d) => d.category !== 'config').map((d) => d.type);
    const css = ours.map((t) => `:not([data-palette-type="${t}"])`).join('');
    const style = await page.addStyleTag({ content: `.red-ui-palette-node${css} { display: none !important; }` });
    const first = page.locator(`.red-ui-palette-node[data-palette-type="${ours[0]}"]`);
    await first.scrollIntoViewIfNeeded();
    const boxes = (await Promise.all(ours.map((t) => page.locator(`.red-ui-palette-node[data-palette-type="${t}"]`).boundingBox()))).filter(
      (b): b is NonNullable<typeof b> => b !== null,
    );
    assert.equal(boxes.length, ours.length, 'not every palette node is laid out');
    const x0 = Math.max(0, Math.min(...boxes.map((b) => b.x)) - 12);
    const y0 = Math.max(0, Math.min(...boxes.map((b) => b.y)) - 12);
    const x1 = Math.max(...boxes.map((b) => b.x + b.width)) + 12;
    const y1 = Math.max(...boxes.map((b) => b.y + b.height)) + 12;
    fs.mkdirSync(shotDir, { recursive: true });
    await page.screenshot({ path: path.join(shotDir, 'palette.png'), clip: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } });
    await style.evaluate((el: any) => el.remove());
  });

  /** Adds a node of `type` to the current workspace by dragging it from the palette; returns its id. */
  async function dropFromPalette(type: string, x: number, y: number): Promise<string> {
    const before: string[] = await page.evaluate((t: string) => {
      const ids: string[] = [];
      RED.nodes.eachNode((n: any) => {
        if (n.type === t) ids.push(n.id);
      });
      return ids;
    }, type);
    const src = page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`);
    const newNode = (): Promise<string | null> =>
      page.evaluate(
        ({ t, known }: { t: string; known: string[] }) => {
          let found: string | null = null;
          RED.nodes.eachNode((n: any) => {
            if (n.type === t && !known.includes(n.id)) found = n.id;
          });
          return found;
        },
        { t: type, known: before },
      );
    // jQuery UI's draggable needs a press, several moves and a release; the first drag after the
    // palette was re-rendered (search cleared) can be swallowed, so try a few times
    for (let attempt = 1; attempt <= 3; attempt++) {
      await src.scrollIntoViewIfNeeded();
      const from = (await src.boundingBox())!;
      const chart = (await page.locator('#red-ui-workspace-chart').boundingBox())!;
      await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
      await page.mouse.down();
      await page.mouse.move(from.x + from.width / 2 + 20, from.y + from.height / 2, { steps: 5 });
      await page.mouse.move(chart.x + x, chart.y + y, { steps: 15 });
      await page.mouse.up();
      const id = await waitFor(newNode, 3000, 'drop').catch(() => null);
      if (id) return id;
    }
    const id = (await waitFor(newNode, 1000, `a ${type} node dropped from the palette`)) as string;
    return id;
  }

  async function openDialog(type: string): Promise<{ id: string; prefix: string }> {
    const def = defs.get(type);
    assert.ok(def, `${type} is not registered in the editor`);
    let id = '';
    let prefix = 'node-input';
    if (def.category === 'config') {
      prefix = 'node-config-input';
      await page.evaluate((t: string) => RED.editor.editConfig('', t, 'add'), type);
      await page.waitForSelector('.red-ui-tray #node-config-dialog-ok', { state: 'visible' });
    } else {
      id = await dropFromPalette(type, 300 + Math.floor(Math.random() * 300), 200 + Math.floor(Math.random() * 300));
      await page.locator(`g.red-ui-flow-node-group[id="${id}"] rect.red-ui-flow-node`).dblclick();
      await page.waitForSelector('.red-ui-tray #node-dialog-ok', { state: 'visible' });
    }
    // the tray is filled (template, oneditprepare) while it slides in: wait until it settles
    await page
      .waitForFunction(
        ({ p, keys }: { p: string; keys: string[] }) => {
          const tray = document.querySelectorAll('.red-ui-tray');
          const last = tray[tray.length - 1];
          return !!last && keys.every((k) => last.querySelector(`[id^="${p}-${k}"]`));
        },
        { p: prefix, keys: def.defaults },
        { timeout: 5000 },
      )
      .catch(() => undefined); // a missing input is reported by the dialog test
    return { id, prefix };
  }

  async function closeDialog(ok: boolean): Promise<void> {
    const btn = page.locator(ok ? '.red-ui-tray-toolbar button.primary:visible' : '.red-ui-tray-toolbar button:has-text("Cancel"):visible').last();
    await btn.click();
    await page.waitForFunction(() => document.querySelectorAll('.red-ui-tray').length === 0);
  }

  for (const type of types) {
    it(`opens the ${type} edit dialog with an input for every property (screenshot ${type}.png)`, async function () {
      const { prefix } = await openDialog(type);
      const def = defs.get(type)!;
      const missing: string[] = [];
      // the tray is filled while it slides in: give each input a moment to appear
      for (const key of def.defaults) {
        const found = await page
          .locator(`.red-ui-tray [id^="${prefix}-${key}"]`)
          .first()
          .waitFor({ state: 'attached', timeout: 3000 })
          .then(
            () => true,
            () => false,
          );
        if (!found) missing.push(key);
      }
      await page.waitForTimeout(300);
      await shot(type, page.locator('.red-ui-tray').last());
      const help = await page.evaluate((t: string) => $(`script[data-help-name="${t}"]`).html() || '', type);
      await closeDialog(false);
      assert.deepEqual(missing, [], `${type}: properties without an input #${prefix}-<name>`);
      assert.match(help, /<h3>\s*Details\s*<\/h3>/, `${type}: help has no Details section`);
      if (def.category !== 'config') {
        assert.match(help, /<h3>\s*(Inputs|Outputs)\s*<\/h3>/, `${type}: help has no Inputs/Outputs section`);
      }
    });
  }

  for (const [type, cases] of Object.entries(INVALID)) {
    it(`${type} dialog flags invalid values: ${cases.map((c) => `${c.field}=${c.value} (${c.why})`).join(', ')}`, async function () {
      const { id, prefix } = await openDialog(type);
      const problems: string[] = [];
      for (const c of cases) {
        const sel = `#${prefix}-${c.field}`;
        const ok = await page.evaluate(
          ({ s, v }: { s: string; v: string }) => {
            const el = $(s);
            if (el.length === 0) return null;
            el.val(v).trigger('change').trigger('keyup');
            return el.hasClass('input-error') || el.next('.red-ui-typedInput-container').hasClass('input-error');
          },
          { s: sel, v: c.value },
        );
        if (ok === null) problems.push(`${sel} does not exist`);
        else if (!ok) problems.push(`${sel}=${c.value} not flagged as an error (${c.why})`);
      }
      // a node is saved (Done) to check it is marked invalid; a config node is cancelled (an invalid
      // config node left behind would make every later Deploy ask for confirmation)
      await closeDialog(!!id);
      if (id) {
        const node = await page.evaluate((i: string) => {
          const n = RED.nodes.node(i);
          return { valid: n.valid, errors: n.validationErrors || [] };
        }, id);
        if (node.valid !== false) problems.push(`${type} saved with invalid values is not marked invalid`);
        // the editor lists one entry per invalid property: its name, or the validator's message
        const own = (node.errors as string[]).filter((e) => e !== 'client');
        if (own.length < cases.length) problems.push(`${type}: validation errors ${JSON.stringify(node.errors)} do not cover ${cases.map((c) => c.field).join(', ')}`);
        await page.evaluate((i: string) => {
          RED.nodes.remove(i);
          RED.view.redraw(true);
        }, id);
      }
      assert.deepEqual(problems, []);
    });
  }

  /** Menu > Import > Examples > <module> > <name> > Import; returns false when nothing arrived. */
  async function importExample(name: string): Promise<boolean> {
    await page.click('#red-ui-header-button-sidemenu');
    await page.click('#menu-item-import');
    await page.click('#red-ui-tab-red-ui-clipboard-dialog-import-tab-examples a');
    const tree = page.locator('#red-ui-clipboard-dialog-import-tab-examples');
    const label = (text: string) =>
      tree.locator('.red-ui-treeList-label-text', { hasText: new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }).filter({ visible: true }).first();
    // the tree keeps its expanded folders between openings: expand a level only when the next is hidden
    const steps = [MODULE, ...name.split('/')];
    for (let i = 0; i < steps.length; i++) {
      const next = steps[i + 1];
      if (next !== undefined && (await label(next).isVisible())) continue;
      await label(steps[i]!).click();
    }
    await page.click('#red-ui-clipboard-dialog-ok');
    await page.waitForSelector('#red-ui-clipboard-dialog', { state: 'hidden' });
    // Import fetches the example, then adds it (nodes without a tab follow the mouse until a click)
    const ids = readExample(name, examplesDir).map((n) => n.id);
    const arrived = await page
      .waitForFunction((list: string[]) => list.some((i) => RED.nodes.node(i) || RED.nodes.workspace(i)), ids, { timeout: 15000 })
      .then(
        () => true,
        () => false,
      );
    await page.mouse.move(500, 400);
    await page.mouse.click(500, 400);
    return arrived;
  }

  for (const name of exampleNames()) {
    it(`imports example "${name}" through Import > Examples, deploys it; our mqtt5 nodes turn green, none red`, async function () {
      this.timeout(90000);
      assert.ok(exampleNames(examplesDir).includes(name), `examples/${name}.json is not in the installed package`);
      // one example at a time: clear the workspace (the deploy below replaces the running flows)
      const errorsBefore = pageErrors.length;
      await page.evaluate(() => {
        const tabs: any[] = [];
        RED.nodes.eachWorkspace((ws: any) => {
          tabs.push(ws);
        });
        // Flows > Add, then Flows > Delete for every other tab (the last tab cannot be deleted), then
        // the config nodes
        const placeholder = RED.workspaces.add();
        window.__placeholderTab = placeholder && placeholder.id;
        for (const ws of tabs) RED.workspaces.delete(ws);
        const configs: string[] = [];
        RED.nodes.eachConfig((c: any) => {
          configs.push(c.id);
        });
        for (const id of configs) RED.nodes.remove(id);
        RED.nodes.dirty(true);
        RED.view.redraw(true);
      });
      const mark = nr!.log().length;
      assert.ok(await importExample(name), `${name}: no node imported`);
      const ids = readExample(name, examplesDir).map((n) => n.id);
      const tab = readExample(name, examplesDir).find((n) => n.type === 'tab');
      if (tab) {
        await page.evaluate((id: string) => {
          RED.workspaces.show(id);
          // the empty tab left by the clean-up is not part of the example
          const placeholder = RED.nodes.workspace(window.__placeholderTab);
          if (placeholder) RED.workspaces.delete(placeholder);
        }, tab.id);
      }
      const absent = await page.evaluate((list: string[]) => list.filter((i) => !(RED.nodes.node(i) || RED.nodes.workspace(i))), ids);
      assert.deepEqual(absent, [], `${name}: nodes not imported with their ids (import conflict?)`);

      // Examples use 1883 for their own mqtt5-broker or for an external broker. This machine runs
      // other tests: an example's own broker moves to a free port, an external one is mosquitto.
      const flow = readExample(name, examplesDir);
      const ownBroker = flow.some((n) => n.type === 'mqtt5-broker' && n.tcpEnabled !== false && Number(n.tcpPort) === 1883);
      // (for the README screenshot of the demo, keep 1883 when it is free)
      const keep = name === 'demo' && !!process.env.SCREENSHOT_DIR && (await portIsFree(1883));
      const port = keep ? 1883 : ownBroker ? await freePort() : mosquitto!.port;
      await page.evaluate(
        ({ p, list }: { p: number; list: string[] }) => {
          for (const id of list) {
            const n = RED.nodes.node(id);
            if (!n || n.type === 'comment') continue;
            for (const k of Object.keys(n)) {
              if (k.startsWith('_') || k === 'id' || k === 'z' || k === 'wires' || k === 'name' || k === 'info') continue;
              const v = n[k];
              if (v === 1883) n[k] = p;
              else if (v === '1883') n[k] = String(p);
              else if (typeof v === 'string' && /:1883\b/.test(v)) n[k] = v.replace(/:1883\b/g, ':' + p);
            }
          }
          RED.nodes.dirty(true);
        },
        { p: port, list: ids },
      );
      await page.click('#red-ui-header-button-deploy');
      // a confirmation (invalid nodes, unused config nodes...) means the example is not clean
      const confirm = await page
        .waitForSelector('.ui-dialog:visible #red-ui-deploy-dialog-confirm-deploy-deploy, .ui-dialog:visible .ui-dialog-buttonset button.primary', { timeout: 1500 })
        .catch(() => null);
      if (confirm) {
        const text = await page.locator('.ui-dialog:visible .ui-dialog-content').last().innerText();
        await shot(`confirm-${name.replace(/\//g, '_')}`);
        await page.locator('.ui-dialog:visible .ui-dialog-buttonset button.primary').last().click();
        assert.fail(`${name}: Deploy asked for confirmation: ${text}`);
      }
      await page.waitForFunction(() => !RED.nodes.dirty(), undefined, { timeout: 30000 });

      const mqttTypes = [...defs.values()].filter((d) => d.category !== 'config' && d.type.startsWith('mqtt5-')).map((d) => d.type);
      type St = { id: string; type: string; fill?: string; text?: string };
      let statuses: St[] = [];
      const collect = (): Promise<St[]> =>
        page.evaluate(
          ({ our, list }: { our: string[]; list: string[] }) => {
            const out: Array<{ id: string; type: string; fill?: string; text?: string }> = [];
            for (const id of list) {
              const n = RED.nodes.node(id);
              if (n && our.includes(n.type)) out.push({ id: n.id, type: n.type, fill: n.status?.fill, text: n.status?.text });
            }
            return out;
          },
          { our: types, list: ids },
        );
      await waitFor(
        async () => {
          statuses = await collect();
          return statuses.filter((st) => mqttTypes.includes(st.type)).every((st) => st.fill === 'green');
        },
        20000,
        'every mqtt5 node to report a green status',
      ).catch(() => undefined); // the assertions below say which node is not green
      if (name === 'demo') {
        await page.evaluate(() => RED.view.select([]));
        await page.waitForTimeout(500);
        await shot('demo-flow');
      }
      const problems: string[] = [];
      for (const st of statuses) {
        if (st.fill === 'red') problems.push(`${st.type} ${st.id}: red status "${st.text}"`);
        else if (mqttTypes.includes(st.type) && st.fill !== 'green') problems.push(`${st.type} ${st.id}: status ${st.fill ?? 'none'} "${st.text ?? ''}"`);
      }
      const log = nr!.logSince(mark);
      if (/Waiting for missing types|\[error\]/.test(log)) problems.push(`node-red log reports errors:\n${log}`);
      assert.deepEqual(problems, []);
      assert.deepEqual(pageErrors.slice(errorsBefore), [], 'script errors in the editor');
    });
  }
});
