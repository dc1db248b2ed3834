import assert from 'node:assert/strict';
import type { AclRule, BrokerMessage, ClientIdentity, Subscription } from '../../src/broker/types';
import {
  Acl,
  FilterTrie,
  SecurityConfigError,
  createSecurityHooks,
  filterContains,
  filterError,
  filtersOverlap,
  hashPassword,
  parsePasswordHash,
  validateSecurityConfig,
  verifyPassword,
  verifyPasswordAsync,
} from '../../src/broker/security';

const id = (username: string | undefined, clientId = 'cid'): ClientIdentity => ({ clientId, username, protocolVersion: 5 });
const m = (topic: string): BrokerMessage => ({ topic, payload: Buffer.from('x'), qos: 0, retain: false });
const sub = (topicFilter: string): Subscription => ({ topicFilter, qos: 0 });
const auth = (username?: string, password?: string) => ({ clientId: 'c', username, password: password === undefined ? undefined : Buffer.from(password), protocolVersion: 5 as const });

describe('security: password hashing', function () {
  let h: string;
  before(() => (h = hashPassword('s3cret')));

  it('produces scrypt$N$r$p$salt$hash with a random salt', () => {
    assert.match(h, /^scrypt\$8192\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    const p = parsePasswordHash(h);
    assert.ok(typeof p !== 'string');
    assert.equal(p.salt.length, 16);
    assert.equal(p.hash.length, 32);
    assert.notEqual(hashPassword('s3cret'), h, 'two hashes of one password differ (salt)');
  });

  it('verifies the right password and rejects wrong ones (sync, string and Buffer)', () => {
    assert.equal(verifyPassword('s3cret', h), true);
    assert.equal(verifyPassword(Buffer.from('s3cret'), h), true);
    assert.equal(verifyPassword('s3cret ', h), false);
    assert.equal(verifyPassword('', h), false);
  });

  it('verifies asynchronously', async () => {
    assert.equal(await verifyPasswordAsync('s3cret', h), true);
    assert.equal(await verifyPasswordAsync('nope', h), false);
  });

  it('rejects malformed or hostile hashes without throwing', () => {
    for (const bad of ['', 'plain', 'bcrypt$1$2$3$a$b', 'scrypt$1000$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==', 'scrypt$4194304$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==', 'scrypt$8192$8$1$!!$AAAA']) {
      assert.equal(typeof parsePasswordHash(bad), 'string', bad);
      assert.equal(verifyPassword('x', bad), false, bad);
    }
  });

  it('honours the cost parameters stored in the hash', () => {
    const cheap = hashPassword('pw', { N: 1024, r: 4, p: 1 });
    assert.match(cheap, /^scrypt\$1024\$4\$1\$/);
    assert.equal(verifyPassword('pw', cheap), true);
  });
});

describe('security: authentication', function () {
  this.timeout(20000);
  let alicePwHash: string;
  before(() => (alicePwHash = hashPassword('wonderland')));

  it('no users configured: anonymous and any username allowed by default', async () => {
    const h = createSecurityHooks({});
    assert.equal(h.allowAnonymous, true);
    assert.equal((await h.authenticate(auth())).reasonCode, 0);
    assert.equal((await h.authenticate(auth('whoever', 'x'))).reasonCode, 0);
  });

  it('no users and allowAnonymous false: everyone refused with 0x86', async () => {
    const h = createSecurityHooks({ allowAnonymous: false });
    assert.equal((await h.authenticate(auth())).reasonCode, 0x86);
    assert.equal((await h.authenticate(auth('u', 'p'))).reasonCode, 0x86);
  });

  it('users configured: anonymous refused by default (0x86)', async () => {
    const h = createSecurityHooks({ users: [{ username: 'alice', password: 'wonderland' }] });
    assert.equal(h.allowAnonymous, false);
    assert.equal((await h.authenticate(auth())).reasonCode, 0x86);
  });

  it('plain password: right one accepted, wrong or missing one refused with 0x86', async () => {
    const h = createSecurityHooks({ users: [{ username: 'alice', password: 'wonderland' }] });
    assert.equal((await h.authenticate(auth('alice', 'wonderland'))).reasonCode, 0);
    assert.equal((await h.authenticate(auth('alice', 'Wonderland'))).reasonCode, 0x86);
    assert.equal((await h.authenticate(auth('alice'))).reasonCode, 0x86);
  });

  it('passwordHash accepted as configured', async () => {
    const h = createSecurityHooks({ users: [{ username: 'alice', passwordHash: alicePwHash }] });
    assert.equal((await h.authenticate(auth('alice', 'wonderland'))).reasonCode, 0);
    assert.equal((await h.authenticate(auth('alice', 'x'))).reasonCode, 0x86);
  });

  it('unknown username refused (0x86) even when anonymous is allowed, like Mosquitto', async () => {
    const h = createSecurityHooks({ users: [{ username: 'alice', passwordHash: alicePwHash }], allowAnonymous: true });
    assert.equal((await h.authenticate(auth())).reasonCode, 0, 'anonymous ok');
    const r = await h.authenticate(auth('mallory', 'wonderland'));
    assert.equal(r.reasonCode, 0x86);
    assert.equal(r.reasonString, 'bad user name or password', 'same answer as a wrong password');
  });

  it('enhanced authentication method is refused with 0x8C', async () => {
    const h = createSecurityHooks({});
    assert.equal((await h.authenticate({ ...auth('a', 'b'), authenticationMethod: 'SCRAM-SHA-1' })).reasonCode, 0x8c);
  });

  it('does not block the event loop while verifying (async scrypt)', async () => {
    const h = createSecurityHooks({ users: [{ username: 'alice', passwordHash: alicePwHash }] });
    let ticks = 0;
    const t = setInterval(() => ticks++, 1);
    const results = await Promise.all([1, 2, 3, 4].map(() => h.authenticate(auth('alice', 'wonderland'))));
    clearInterval(t);
    assert.deepEqual(results.map((r) => r.reasonCode), [0, 0, 0, 0]);
    assert.ok(ticks > 0, 'timers ran while hashing');
  });

  it('rejects invalid configuration with every problem listed', () => {
    const errs = validateSecurityConfig({
      users: [{ username: 'a', password: 'x' }, { username: 'a', password: 'y' }, { username: 'b' }, { username: 'c', passwordHash: 'md5$zzz' }],
      acl: [{ topic: 'a/#/b', access: 'read' }, { topic: 'x', access: 'all' as never }],
    });
    assert.equal(errs.length, 5, errs.join('\n'));
    assert.throws(() => createSecurityHooks({ users: [{ username: 'b' }] }), (e: unknown) => e instanceof SecurityConfigError && /password or passwordHash is required/.test(e.message));
  });

  it('adds no authorize hooks when there is no ACL (everything allowed)', () => {
    const h = createSecurityHooks({});
    assert.equal(h.authorizePublish, undefined);
    assert.equal(h.authorizeSubscribe, undefined);
    assert.equal(h.authorizeRead, undefined);
    assert.equal(new Acl([]).canRead(id(undefined), '$SYS/broker/uptime'), true);
  });
});

describe('security: topic filters', function () {
  it('validates filters', () => {
    for (const ok of ['a', 'a/b', '#', 'a/#', '+', '+/+/c', '/a', 'a//b', '$SYS/#']) assert.equal(filterError(ok), null, ok);
    for (const bad of ['', 'a/#/b', 'a#', 'a/b+', '#/a', 'a/+b']) assert.notEqual(filterError(bad), null, bad);
  });

  const contains: Array<[string, string, boolean]> = [
    ['a/#', 'a/+/c', true],
    ['a/+', 'a/#', false],
    ['a/#', 'a', true],
    ['a/#', 'a/#', true],
    ['#', 'a/b/#', true],
    ['#', '$SYS/#', false],
    ['+/#', '$SYS/x', false],
    ['$SYS/#', '$SYS/broker/+', true],
    ['a/+/c', 'a/b/c', true],
    ['a/+/c', 'a/+/c', true],
    ['a/b/c', 'a/+/c', false],
    ['a/+', 'a/b/c', false],
    ['a/+', 'a', false],
    ['a/b', 'a/b/#', false],
    ['+/+', '+/#', false],
  ];
  for (const [outer, inner, want] of contains) {
    it(`containment: ${outer} ${want ? 'covers' : 'does not cover'} ${inner}`, () => assert.equal(filterContains(outer, inner), want));
  }

  it('overlap between filters', () => {
    assert.equal(filtersOverlap('#', 'a/b'), true);
    assert.equal(filtersOverlap('a/+/c', 'a/b/+'), true);
    assert.equal(filtersOverlap('a/b', 'a/c'), false);
    assert.equal(filtersOverlap('#', '$SYS/x'), false);
    assert.equal(filtersOverlap('a/+', 'a/b/c'), false);
    assert.equal(filtersOverlap('a/#', 'a'), true);
  });

  it('FilterTrie matches topics like the MQTT rules ($ topics need a literal first level)', () => {
    const t = new FilterTrie();
    for (const f of ['a/+/c', 'x/#', 'exact', '$SYS/broker/#', '+/only']) t.add(f);
    assert.equal(t.matches('a/b/c'), true);
    assert.equal(t.matches('a/b/d'), false);
    assert.equal(t.matches('x'), true, 'x/# matches its parent');
    assert.equal(t.matches('x/1/2/3'), true);
    assert.equal(t.matches('exact'), true);
    assert.equal(t.matches('exact/more'), false);
    assert.equal(t.matches('$SYS/broker/load'), true);
    assert.equal(t.matches('$X/only'), false, '+ does not match a $ first level');
    assert.equal(t.matches('k/only'), true);
    const all = new FilterTrie();
    all.add('#');
    assert.equal(all.matches('$SYS/broker/uptime'), false);
    assert.equal(all.matches('any/thing'), true);
  });
});

describe('security: ACL', function () {
  const rules: AclRule[] = [
    { topic: 'public/#', access: 'read' },
    { user: '*', topic: 'devices/%u/#', access: 'readwrite' },
    { topic: 'clients/%c/status', access: 'write' },
    { topic: 'users/%u-inbox', access: 'read' },
    { user: 'alice', topic: 'sensors/#', access: 'readwrite' },
    { user: 'alice', topic: 'sensors/secret/#', access: 'deny' },
    { user: 'bob', topic: 'sensors/+/temp', access: 'read' },
    { user: 'bob', topic: 'cmd/+', access: 'write' },
    { user: 'admin', topic: '#', access: 'readwrite' },
    { user: 'admin', topic: '$SYS/#', access: 'read' },
    { user: 'watcher', topic: '#', access: 'read' },
  ];
  const hooks = createSecurityHooks({ users: [], allowAnonymous: true, acl: rules });
  const pub = (c: ClientIdentity, t: string) => hooks.authorizePublish!(c, m(t));
  const subs = (c: ClientIdentity, f: string) => hooks.authorizeSubscribe!(c, sub(f));
  const read = (c: ClientIdentity, t: string) => hooks.authorizeRead!(c, m(t));

  it('default deny when rules exist: publish and subscribe refused with 0x87', () => {
    assert.equal(pub(id('carol'), 'random/topic'), 0x87);
    assert.equal(subs(id('carol'), 'random/#'), 0x87);
    assert.equal(read(id('carol'), 'random/topic'), false);
  });

  it("rules for everyone apply to anonymous clients ('read' grants no write)", () => {
    assert.equal(subs(id(undefined), 'public/news'), true);
    assert.equal(read(id(undefined), 'public/news/today'), true);
    assert.equal(pub(id(undefined), 'public/news'), 0x87);
  });

  it('user-specific rules apply to that user only', () => {
    assert.equal(pub(id('alice'), 'sensors/kitchen/temp'), true);
    assert.equal(pub(id('bob'), 'sensors/kitchen/temp'), 0x87);
    assert.equal(pub(id(undefined), 'sensors/kitchen/temp'), 0x87);
  });

  it("'write' grants publish only; 'read' grants read only", () => {
    assert.equal(pub(id('bob'), 'cmd/reboot'), true);
    assert.equal(subs(id('bob'), 'cmd/reboot'), 0x87);
    assert.equal(read(id('bob'), 'cmd/reboot'), false);
    assert.equal(pub(id('bob'), 'cmd/reboot/now'), 0x87, '+ is one level');
  });

  it('%u substitution as a whole level', () => {
    assert.equal(pub(id('dave'), 'devices/dave/telemetry'), true);
    assert.equal(subs(id('dave'), 'devices/dave/#'), true);
    assert.equal(pub(id('dave'), 'devices/erin/telemetry'), 0x87);
    assert.equal(subs(id('dave'), 'devices/+/telemetry'), 0x87, 'not all devices');
  });

  it('%u substitution inside a level', () => {
    assert.equal(read(id('dave'), 'users/dave-inbox'), true);
    assert.equal(read(id('dave'), 'users/erin-inbox'), false);
  });

  it('%c substitution with the client id', () => {
    assert.equal(pub(id(undefined, 'sensor-7'), 'clients/sensor-7/status'), true);
    assert.equal(pub(id(undefined, 'sensor-7'), 'clients/sensor-8/status'), 0x87);
  });

  it('%u rules do not apply to anonymous clients', () => {
    assert.equal(pub(id(undefined), 'devices//x'), 0x87);
    assert.equal(pub(id(undefined), 'devices/undefined/x'), 0x87);
  });

  it('usernames or client ids with + # / gain nothing from substitution (CVE-2017-7650)', () => {
    assert.equal(subs(id('+'), 'devices/+/#'), 0x87);
    assert.equal(read(id('+'), 'devices/eve/secret'), false);
    assert.equal(read(id('#'), 'devices/eve/secret'), false);
    assert.equal(pub(id('a/b'), 'devices/a/b/x'), 0x87);
    assert.equal(pub(id(undefined, '#'), 'clients/x/status'), 0x87);
    assert.equal(pub(id(undefined, 'a/b'), 'clients/a/b/status'), 0x87);
  });

  it('%u and %c are substituted in one pass: a username containing "%c" stays literal', () => {
    const acl = new Acl([{ topic: 'home/%u/%c', access: 'readwrite' }]);
    // user "%c" with client id "bob" must not reach bob's own home/bob/bob
    assert.equal(acl.canWrite(id('%c', 'bob'), 'home/bob/bob'), false);
    assert.equal(acl.canWrite(id('%c', 'bob'), 'home/%c/bob'), true);
    assert.equal(acl.canWrite(id('bob', 'bob'), 'home/bob/bob'), true);
  });

  it('deny takes precedence over a broader grant (publish and delivery)', () => {
    assert.equal(pub(id('alice'), 'sensors/secret/key'), 0x87);
    assert.equal(read(id('alice'), 'sensors/secret/key'), false);
    assert.equal(read(id('alice'), 'sensors/open/key'), true);
  });

  it('subscription inside a denied subtree is refused; a broader one is granted but filtered at delivery', () => {
    assert.equal(subs(id('alice'), 'sensors/secret/#'), 0x87);
    assert.equal(subs(id('alice'), 'sensors/secret/a'), 0x87);
    assert.equal(subs(id('alice'), 'sensors/#'), true);
    assert.equal(read(id('alice'), 'sensors/secret/a'), false);
  });

  it("subscribe by containment ('contained' policy): a/+/temp inside sensors/# is ok, wider is not", () => {
    assert.equal(subs(id('bob'), 'sensors/+/temp'), true);
    assert.equal(subs(id('bob'), 'sensors/kitchen/temp'), true);
    assert.equal(subs(id('bob'), 'sensors/#'), 0x87);
    assert.equal(subs(id('bob'), 'sensors/+/+'), 0x87);
  });

  it("'overlap' policy grants a broad subscription; delivery still checks each topic", () => {
    const acl = new Acl(rules, 'overlap');
    assert.equal(acl.canSubscribe(id('bob'), '#'), true);
    assert.equal(acl.canSubscribe(id('bob'), 'nothing/here'), false);
    assert.equal(acl.canRead(id('bob'), 'sensors/k/temp'), true);
    assert.equal(acl.canRead(id('bob'), 'sensors/k/humidity'), false);
  });

  it("'delivery' policy (Mosquitto's behaviour) grants every subscription; delivery still checks", () => {
    const acl = new Acl(rules, 'delivery');
    assert.equal(acl.canSubscribe(id('alice'), 'sensors/secret/#'), true);
    assert.equal(acl.canRead(id('alice'), 'sensors/secret/a'), false);
    assert.equal(acl.canRead(id('alice'), 'sensors/a'), true);
  });

  it('$SYS is readable only through a rule that names it', () => {
    assert.equal(read(id('watcher'), 'anything/at/all'), true);
    assert.equal(read(id('watcher'), '$SYS/broker/uptime'), false);
    assert.equal(subs(id('watcher'), '$SYS/#'), 0x87);
    assert.equal(read(id('admin'), '$SYS/broker/uptime'), true);
    assert.equal(subs(id('admin'), '$SYS/broker/+'), true);
    assert.equal(pub(id('admin'), '$SYS/broker/uptime'), 0x87, 'admin has read-only $SYS');
  });

  it('shared subscriptions are checked on the inner filter', () => {
    assert.equal(subs(id('bob'), '$share/g1/sensors/+/temp'), true);
    assert.equal(subs(id('bob'), '$share/g1/cmd/+'), 0x87);
  });

  it('caches per identity but never mixes identities', () => {
    const acl = new Acl(rules);
    const c = id('dave', 'c1');
    assert.equal(acl.canWrite(c, 'devices/dave/x'), true);
    assert.equal(acl.forClient(c), acl.forClient(c), 'same compiled object');
    assert.equal(acl.canWrite(id('erin', 'c1'), 'devices/dave/x'), false);
    // an identity object whose username changed is recompiled
    c.username = 'erin';
    assert.equal(acl.canWrite(c, 'devices/dave/x'), false);
    assert.equal(acl.canWrite(c, 'devices/erin/x'), true);
  });

  it("rule with user '*' equals a rule without user", () => {
    const a = new Acl([{ user: '*', topic: 't', access: 'read' }]);
    const b = new Acl([{ topic: 't', access: 'read' }]);
    for (const who of [id(undefined), id('x')]) assert.equal(a.canRead(who, 't'), b.canRead(who, 't'));
    assert.equal(a.canRead(id('x'), 't'), true);
  });

  it('authorizeRead stays fast with many rules (O(levels) trie, compiled once per client)', () => {
    const many: AclRule[] = [];
    for (let i = 0; i < 2000; i++) many.push({ topic: `site/${i}/+/value`, access: 'read' });
    const acl = new Acl(many);
    const c = id('u');
    let hits = 0;
    for (let i = 0; i < 20000; i++) if (acl.canRead(c, `site/${i % 2500}/dev/value`)) hits++;
    assert.equal(hits, 16000);
  });
});
