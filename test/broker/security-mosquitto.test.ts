/**
 * Conformance of our ACL with Mosquitto's acl_file: the same users and rules run in a real
 * mosquitto (2.x) and in our broker; who receives what and whose publishes get through must be
 * identical. Our rules without `user` map to Mosquitto `pattern` lines (they apply to everyone);
 * %u / %c are used as whole levels (Mosquitto's requirement). Our broker runs with the 'delivery'
 * subscribe policy here, which is Mosquitto's (every subscription granted, reads checked at delivery).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import mqtt from 'mqtt';
import type { AclRule, UserConfig } from '../../src/broker/types';
import { createSecurityHooks } from '../../src/broker/security';
import { requireTool, tmpDir, waitFor } from '../helpers/env';
import { startMosquitto, type MosquittoInstance } from '../helpers/mosquitto';
import { startBroker, type TestBroker } from './helpers';

const USERS: Record<string, string> = { alice: 'a-pw', bob: 'b-pw', dave: 'd-pw', admin: 'adm-pw' };
const RULES: AclRule[] = [
  { topic: 'public/#', access: 'read' },
  { topic: 'devices/%u/#', access: 'readwrite' },
  { topic: 'clients/%c/status', access: 'write' },
  { user: 'alice', topic: 'sensors/#', access: 'readwrite' },
  { user: 'alice', topic: 'sensors/secret/#', access: 'deny' },
  { user: 'bob', topic: 'sensors/+/temp', access: 'read' },
  { user: 'bob', topic: 'cmd/+', access: 'write' },
  { user: 'admin', topic: '#', access: 'readwrite' },
];
const TOPICS = [
  'public/a',
  'public/a/b',
  'sensors/x',
  'sensors/secret/k',
  'sensors/k/temp',
  'cmd/reboot',
  'cmd/reboot/now',
  'devices/alice/s',
  'devices/bob/s',
  'devices/dave/s',
  'clients/alice-c/status',
  'clients/bob-c/status',
  'clients/anon-c/status',
  'other/x',
];
/** [username | undefined, client id] */
const ACTORS: Array<[string | undefined, string]> = [
  [undefined, 'anon-c'],
  ['alice', 'alice-c'],
  ['bob', 'bob-c'],
  ['dave', 'dave-c'],
];

function mosquittoAcl(rules: AclRule[]): string {
  const lines: string[] = [];
  for (const r of rules.filter((x) => !x.user || x.user === '*')) lines.push(`pattern ${r.access} ${r.topic}`);
  const users = [...new Set(rules.filter((x) => x.user && x.user !== '*').map((x) => x.user as string))];
  for (const u of users) {
    lines.push(`user ${u}`);
    for (const r of rules.filter((x) => x.user === u)) lines.push(`topic ${r.access} ${r.topic}`);
  }
  return lines.join('\n') + '\n';
}

async function conn(url: string, who: [string | undefined, string]): Promise<mqtt.MqttClient> {
  const [username, clientId] = who;
  return mqtt.connectAsync(url, {
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 10000,
    clientId,
    ...(username ? { username, password: USERS[username] } : {}),
  });
}

/** Who reads what: each actor subscribes '#'; admin publishes every topic, then a marker. */
async function readMatrix(url: string): Promise<string[]> {
  const got: string[] = [];
  const readers: mqtt.MqttClient[] = [];
  for (const a of ACTORS) {
    const c = await conn(url, a);
    c.on('message', (t) => got.push(`${a[1]} reads ${t}`));
    await c.subscribeAsync('#', { qos: 1 }).catch(() => undefined);
    readers.push(c);
  }
  const admin = await conn(url, ['admin', 'admin-c']);
  for (const t of TOPICS) await admin.publishAsync(t, 'x', { qos: 1 });
  await admin.publishAsync('public/zz-marker', 'end', { qos: 1 });
  await waitFor(() => ACTORS.every((a) => got.includes(`${a[1]} reads public/zz-marker`)), 10000, 'markers');
  for (const c of [...readers, admin]) await c.endAsync();
  return got.filter((g) => !g.endsWith('zz-marker')).sort();
}

/** Whose publishes get through: admin subscribes '#', every actor publishes every topic (QoS 1). */
async function writeMatrix(url: string): Promise<string[]> {
  const got: string[] = [];
  const admin = await conn(url, ['admin', 'admin-c']);
  admin.on('message', (t, p) => got.push(`${p.toString()} writes ${t}`));
  await admin.subscribeAsync('#', { qos: 1 });
  for (const a of ACTORS) {
    const c = await conn(url, a);
    for (const t of TOPICS) await c.publishAsync(t, a[1], { qos: 1 }).catch(() => undefined); // a refusal may reject
    await c.endAsync();
  }
  await admin.publishAsync('zz/marker', 'end', { qos: 1 });
  await waitFor(() => got.includes('end writes zz/marker'), 10000, 'marker');
  await admin.endAsync();
  return got.filter((g) => !g.startsWith('end ')).sort();
}

describe('ACL conformance with Mosquitto (acl_file)', function () {
  this.timeout(60000);
  let mosq: MosquittoInstance | undefined;
  let ours: TestBroker | undefined;
  let oursUrl = '';
  let dir = '';

  before(async function () {
    const passwd = requireTool(this, 'mosquitto_passwd', 'apt-get install mosquitto');
    dir = tmpDir('mosq-acl-');
    fs.chmodSync(dir, 0o755); // mosquitto may drop privileges before reading these files
    const pwFile = path.join(dir, 'passwd');
    fs.writeFileSync(pwFile, '');
    for (const [u, p] of Object.entries(USERS)) execFileSync(passwd, ['-b', pwFile, u, p]);
    fs.chmodSync(pwFile, 0o644);
    const aclFile = path.join(dir, 'acl');
    fs.writeFileSync(aclFile, mosquittoAcl(RULES), { mode: 0o644 });
    mosq = await startMosquitto(this, { extraConfig: [`password_file ${pwFile}`, `acl_file ${aclFile}`] });
    const users: UserConfig[] = Object.entries(USERS).map(([username, password]) => ({ username, password }));
    ({ broker: ours, url: oursUrl } = await startBroker({
      hooks: createSecurityHooks({ users, allowAnonymous: true, acl: RULES, subscribePolicy: 'delivery' }),
    }));
  });
  after(async () => {
    await ours?.close();
    await mosq?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('delivers the same topics to the same clients', async () => {
    const theirs = await readMatrix(mosq!.url);
    const mine = await readMatrix(oursUrl);
    assert.ok(theirs.includes('alice-c reads sensors/x') && !theirs.includes('alice-c reads sensors/secret/k'), 'the matrix is meaningful');
    assert.ok(theirs.includes('dave-c reads devices/dave/s') && !theirs.includes('dave-c reads devices/bob/s'));
    assert.deepEqual(mine, theirs);
  });

  it('lets the same publishes through', async () => {
    const theirs = await writeMatrix(mosq!.url);
    const mine = await writeMatrix(oursUrl);
    assert.ok(theirs.includes('bob-c writes cmd/reboot') && !theirs.includes('bob-c writes cmd/reboot/now'), 'the matrix is meaningful');
    assert.ok(theirs.includes('anon-c writes clients/anon-c/status'));
    assert.deepEqual(mine, theirs);
  });
});
