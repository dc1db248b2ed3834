/**
 * The mqtt5-broker edit dialog in a real browser (Chromium through playwright-core) against a real
 * node-red process: users typed into the Security tab become credentials (never in flows.json), ACL
 * rows are saved, a deploy enforces them, and reopening the dialog shows the users again.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { chromium, type Browser, type Page } from 'playwright-core';
import { freePort, requireTool, ROOT, waitFor } from '../helpers/env';
import { startNodeRed, type NodeRedProcess } from './broker-helpers';

declare const RED: any;
declare const $: any;
declare const document: any;

function connect(url: string, opts: IClientOptions, into: MqttClient[]): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    into.push(c);
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

describe('mqtt5-broker edit dialog in Chromium', function () {
  this.timeout(120000);
  let nr: NodeRedProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let port = 0;
  const clients: MqttClient[] = [];
  const pageErrors: string[] = [];

  before(async function () {
    const chromiumBin = requireTool(this, process.env.CHROMIUM ?? '/usr/bin/chromium', 'apt-get install chromium');
    port = await freePort();
    nr = await startNodeRed({
      flows: [
        { id: 'tab1', type: 'tab', label: 'broker' },
        { id: 'bk1', type: 'mqtt5-broker', z: 'tab1', name: 'hub', x: 200, y: 100, tcpPort: port, tcpHost: '127.0.0.1', sysInterval: 0, wires: [[], []] },
      ],
    });
    browser = await chromium.launch({ executablePath: chromiumBin, headless: true, args: ['--no-sandbox', '--disable-gpu', '--headless=new'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.addInitScript('window.__name = function (f) { return f; };');
    page.setDefaultTimeout(20000);
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(nr.url);
    await page.waitForFunction(() => typeof RED !== 'undefined' && RED.nodes && RED.nodes.node('bk1'), undefined, { timeout: 60000 });
  });

  after(async function () {
    for (const c of clients.splice(0)) c.end(true);
    if (browser) await browser.close();
    if (nr) {
      await nr.stop();
      fs.rmSync(nr.userDir, { recursive: true, force: true });
    }
  });

  async function openDialog(): Promise<void> {
    await page.evaluate(() => RED.editor.edit(RED.nodes.node('bk1')));
    await page.waitForSelector('.red-ui-tray #node-dialog-ok', { state: 'visible' });
    // credentials are fetched from the runtime as the dialog opens
    await page.waitForTimeout(300);
  }

  async function deploy(): Promise<void> {
    const before = nr!.starts();
    await page.click('#red-ui-header-button-deploy');
    await waitFor(() => nr!.starts() > before, 20000, 'deploy from the editor');
  }

  it('users typed in the Security tab are stored as credentials and enforced with the ACL', async function () {
    await openDialog();
    await page.click('#red-ui-tab-mqtt5-broker-tab-security a, a[href="#mqtt5-broker-tab-security"]');
    await page.locator('#node-input-allowAnonymous').uncheck();
    await page.evaluate(() => {
      $('#node-input-users-container').editableList('addItem', {});
      $('#node-input-acl-container').editableList('addItem', { user: '', topic: 'home/%u/#', access: 'readwrite' });
    });
    await page.locator('.mqtt5b-user-name').last().fill('alice');
    await page.locator('.mqtt5b-user-password').last().fill('Very-Secret-1');
    if (process.env.SCREENSHOT_DIR) {
      const dir = path.resolve(ROOT, process.env.SCREENSHOT_DIR);
      fs.mkdirSync(dir, { recursive: true });
      await page.locator('.red-ui-tray').last().screenshot({ path: path.join(dir, 'mqtt5-broker-security.png') });
    }
    await page.click('.red-ui-tray #node-dialog-ok');
    await page.waitForFunction(() => document.querySelectorAll('.red-ui-tray').length === 0);
    await deploy();

    const flowFile = fs.readFileSync(path.join(nr!.userDir, 'flows.json'), 'utf8');
    assert.ok(!flowFile.includes('Very-Secret-1'), 'password in flows.json');
    const saved = (JSON.parse(flowFile) as Array<Record<string, any>>).find((n) => n.id === 'bk1')!;
    assert.equal(saved.allowAnonymous, false);
    assert.deepEqual(saved.acl, [{ user: '*', topic: 'home/%u/#', access: 'readwrite' }]);

    await waitFor(async () => {
      try {
        await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'anon', connectTimeout: 2000 }, clients);
        return false;
      } catch (e) {
        return (e as { code?: number }).code === 0x87 || (e as { code?: number }).code === 0x86;
      }
    }, 20000, 'anonymous clients refused after the deploy');
    const alice = await connect(`mqtt://127.0.0.1:${port}`, { username: 'alice', password: 'Very-Secret-1' }, clients);
    await alice.subscribeAsync('home/alice/#', { qos: 1 });
    await assert.rejects(alice.subscribeAsync('home/bob/#', { qos: 1 }), /Not authorized/);
    alice.end(true);
  });

  it('reopening the dialog shows the users; saving again keeps them', async function () {
    await openDialog();
    await page.click('a[href="#mqtt5-broker-tab-security"]');
    const names = await page.locator('.mqtt5b-user-name').evaluateAll((els) => els.map((e) => (e as any).value));
    assert.deepEqual(names, ['alice']);
    const pw = await page.locator('.mqtt5b-user-password').first().inputValue();
    assert.equal(pw, 'Very-Secret-1');
    // invalid values are flagged in the dialog
    await page.click('a[href="#mqtt5-broker-tab-outputs"]');
    const flagged = await page.evaluate(() => {
      const el = $('#node-input-copyTopic');
      el.val('sensors/#/x').trigger('change').trigger('keyup');
      const bad = el.hasClass('input-error');
      el.val('sensors/#, +/status').trigger('change').trigger('keyup');
      return { bad, good: !el.hasClass('input-error') };
    });
    assert.deepEqual(flagged, { bad: true, good: true });
    await page.fill('#node-input-name', 'hub renamed');
    await page.click('.red-ui-tray #node-dialog-ok');
    await page.waitForFunction(() => document.querySelectorAll('.red-ui-tray').length === 0);
    await deploy();
    await waitFor(async () => {
      try {
        await connect(`mqtt://127.0.0.1:${port}`, { username: 'alice', password: 'Very-Secret-1', connectTimeout: 2000 }, clients);
        return true;
      } catch {
        return false;
      }
    }, 20000, 'alice still accepted after the second deploy');
    assert.deepEqual(pageErrors, []);
  });
});
