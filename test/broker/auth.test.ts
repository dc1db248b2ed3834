import assert from 'node:assert/strict';
import { connect, RawClient, startBroker } from './helpers';
import { createBroker, type BrokerHooks } from '../../src/broker';
import { waitFor } from '../helpers/env';

describe('broker core: authentication and the hook chain', function () {
  it('enhanced authentication: CONNECT -> AUTH 0x18 -> AUTH 0x18 -> CONNACK with method and data', async () => {
    const hooks: BrokerHooks = {
      authenticate: (req) => {
        if (req.authenticationMethod !== 'CHALLENGE') return undefined;
        return { reasonCode: 0x18, authenticationData: Buffer.from('nonce') };
      },
      authContinue: (req) =>
        req.authenticationData?.toString() === 'nonce-signed'
          ? { reasonCode: 0, authenticationData: Buffer.from('welcome') }
          : { reasonCode: 0x87, reasonString: 'bad signature' },
    };
    const b = createBroker({ sysInterval: 0, hooks });
    const c = new RawClient(b, 5);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'ea', properties: { authenticationMethod: 'CHALLENGE' } });
    const auth = await c.next('auth');
    assert.equal(auth.reasonCode, 0x18);
    assert.equal(auth.properties.authenticationData.toString(), 'nonce');
    c.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'CHALLENGE', authenticationData: Buffer.from('nonce-signed') } });
    const ack = await c.next('connack');
    assert.equal(ack.reasonCode, 0);
    assert.equal(ack.properties.authenticationMethod, 'CHALLENGE');
    assert.equal(ack.properties.authenticationData.toString(), 'welcome');
    c.end();
    const d = new RawClient(b, 5);
    d.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'ea2', properties: { authenticationMethod: 'CHALLENGE' } });
    await d.next('auth');
    d.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'CHALLENGE', authenticationData: Buffer.from('forged') } });
    assert.equal((await d.next('connack')).reasonCode, 0x87);
    await d.closedPromise;
    const e = new RawClient(b, 5);
    const unknown = await e.connect({ clientId: 'ea3', properties: { authenticationMethod: 'OTHER' } });
    assert.equal(unknown.reasonCode, 0x8c, 'a method nobody handles: bad authentication method');
    await b.close();
  });

  it('users from options (security hooks): bad password 0x86 / 3.1.1 return code 4, good password accepted', async () => {
    const { broker, url } = await startBroker({ users: [{ username: 'alice', password: 'secret' }] });
    const bad = new RawClient(broker, 5);
    assert.equal((await bad.connect({ clientId: 'u1', username: 'alice', password: Buffer.from('nope') })).reasonCode, 0x86);
    const bad4 = new RawClient(broker, 4);
    assert.equal((await bad4.connect({ clientId: 'u2', username: 'alice', password: Buffer.from('nope') })).returnCode, 4);
    const anon = new RawClient(broker, 5);
    assert.equal((await anon.connect({ clientId: 'u3' })).reasonCode, 0x86);
    const good = await connect(url, { username: 'alice', password: 'secret' });
    assert.equal(good.connected, true);
    await good.endAsync();
    await broker.close();
  });

  it('chain: first authenticate answer wins; every authorize* must allow; authorizeRead filters deliveries', async () => {
    const calls: string[] = [];
    const first: BrokerHooks = {
      authenticate: (req) => (req.username === 'skip' ? undefined : { reasonCode: req.username === 'deny' ? 0x87 : 0 }),
      authorizePublish: (_c, msg) => (msg.topic.startsWith('forbidden/') ? 0x87 : true),
    };
    const second: BrokerHooks = {
      authenticate: () => {
        calls.push('second-auth');
        return { reasonCode: 0 };
      },
      authorizeSubscribe: async (_c, sub) => !sub.topicFilter.startsWith('secret/'),
      authorizeRead: (client, msg) => !(client.clientId === 'reader' && msg.topic === 'chain/hidden'),
    };
    const b = createBroker({ sysInterval: 0, hooks: first });
    b.addHooks(second);
    const denied = new RawClient(b, 5);
    assert.equal((await denied.connect({ clientId: 'd', username: 'deny' })).reasonCode, 0x87);
    assert.deepEqual(calls, [], 'the first answer won');
    const skip = new RawClient(b, 5);
    assert.equal((await skip.connect({ clientId: 'reader', username: 'skip' })).reasonCode, 0);
    assert.deepEqual(calls, ['second-auth']);
    skip.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'secret/x', qos: 0 }, { topic: 'chain/#', qos: 1 }] });
    assert.deepEqual((await skip.next('suback')).granted, [0x87, 1]);
    skip.send({ cmd: 'publish', topic: 'forbidden/x', payload: 'x', qos: 1, messageId: 5 });
    assert.equal((await skip.next('puback')).reasonCode, 0x87);
    await b.publish({ topic: 'chain/hidden', payload: 'h', qos: 1 });
    await b.publish({ topic: 'chain/shown', payload: 's', qos: 1 });
    const p = await skip.next('publish');
    assert.equal(p.topic, 'chain/shown');
    skip.end();
    await waitFor(() => b.clients().length === 0, 2000, 'gone');
    await b.close();
  });

  it('setSecurity() swaps users / ACL at run time for new connections and publishes', async () => {
    const b = createBroker({ sysInterval: 0 });
    const anon = new RawClient(b, 5);
    assert.equal((await anon.connect({ clientId: 'before' })).reasonCode, 0, 'anonymous allowed without users');
    b.setSecurity({ users: [{ username: 'u', password: 'p' }], acl: [{ user: 'u', topic: 'mine/#', access: 'readwrite' }] });
    const anon2 = new RawClient(b, 5);
    assert.equal((await anon2.connect({ clientId: 'after' })).reasonCode, 0x86);
    const u = new RawClient(b, 5);
    assert.equal((await u.connect({ clientId: 'user', username: 'u', password: Buffer.from('p') })).reasonCode, 0);
    u.send({ cmd: 'publish', topic: 'other/x', payload: 'x', qos: 1, messageId: 1 });
    assert.equal((await u.next('puback')).reasonCode, 0x87);
    b.setSecurity({});
    u.send({ cmd: 'publish', topic: 'other/x', payload: 'x', qos: 1, messageId: 2 });
    assert.equal((await u.next('puback')).reasonCode, 0x10, 'ACL removed');
    anon.end();
    u.end();
    await b.close();
  });
});
