/**
 * Conformance suite every BrokerStore must pass. `factory()` returns a fresh store object for a
 * location; calling it again after close() must give a store over the SAME data when `durable`.
 */
import assert from 'node:assert/strict';
import type { BrokerMessage, BrokerStore, QueuedMessage, StoredSession } from '../../src/broker/types';

export interface StoreFactory {
  name: string;
  /** A store over a fresh, empty location. */
  fresh(): Promise<{ make: () => BrokerStore; cleanup: () => Promise<void> }>;
  /** True when a new store over the same location sees what a closed one stored. */
  durable: boolean;
}

export function msg(topic: string, payload: string | Buffer, extra: Partial<BrokerMessage> = {}): BrokerMessage {
  return { topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos: 1, retain: false, ...extra };
}

export function qm(seq: number, payload = `m${seq}`, extra: Partial<QueuedMessage> = {}): QueuedMessage {
  return { seq, qos: 1, message: msg(`t/${seq}`, payload), ...extra };
}

function session(clientId: string, extra: Partial<StoredSession> = {}): StoredSession {
  return { clientId, protocolVersion: 5, expiryInterval: 3600, subscriptions: [{ topicFilter: 'a/#', qos: 1 }], ...extra };
}

export function storeContract(f: StoreFactory): void {
  describe(`BrokerStore contract: ${f.name}`, function () {
    let make: () => BrokerStore;
    let cleanup: () => Promise<void>;
    let store: BrokerStore;

    beforeEach(async () => {
      ({ make, cleanup } = await f.fresh());
      store = make();
      await store.open();
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    /** Closes and reopens when durable (state must survive), else keeps the same store. */
    async function reopen(): Promise<void> {
      if (!f.durable) return;
      await store.close();
      store = make();
      await store.open();
    }

    it('starts empty', async () => {
      assert.deepEqual(await store.loadRetained(), []);
      assert.deepEqual(await store.loadSessions(), []);
      assert.deepEqual(await store.loadQueue('nobody'), []);
    });

    it('stores, overwrites and deletes retained messages (empty payload deletes)', async () => {
      await store.storeRetained(msg('a/1', 'one', { retain: true }));
      await store.storeRetained(msg('a/2', 'two', { retain: true, qos: 0 }));
      await store.storeRetained(msg('a/1', 'uno', { retain: true, qos: 2 }));
      await reopen();
      let r = (await store.loadRetained()).sort((x, y) => x.topic.localeCompare(y.topic));
      assert.deepEqual(r.map((m) => [m.topic, m.payload.toString(), m.qos]), [['a/1', 'uno', 2], ['a/2', 'two', 0]]);
      await store.storeRetained(msg('a/1', Buffer.alloc(0), { retain: true }));
      await store.storeRetained(msg('never/stored', Buffer.alloc(0), { retain: true }));
      await reopen();
      r = await store.loadRetained();
      assert.deepEqual(r.map((m) => m.topic), ['a/2']);
    });

    it('keeps message properties, binary payloads and metadata', async () => {
      const payload = Buffer.from([0, 1, 2, 255, 254, 0x0a, 0x22]);
      const m = msg('p/x', payload, {
        retain: true,
        qos: 2,
        receivedAt: 1700000000123,
        origin: 'pub-1',
        properties: {
          payloadFormatIndicator: false,
          messageExpiryInterval: 60,
          responseTopic: 'resp/1',
          correlationData: Buffer.from([9, 8, 7]),
          userProperties: { a: '1', b: ['x', 'y'] },
          contentType: 'application/octet-stream',
        },
      });
      await store.storeRetained(m);
      await reopen();
      const [got] = await store.loadRetained();
      assert.deepEqual(got, m);
      assert.ok(Buffer.isBuffer(got.payload) && Buffer.isBuffer(got.properties?.correlationData));
    });

    it('saves, overwrites, loads and deletes sessions (with will)', async () => {
      await store.saveSession(session('c1'));
      const will = { message: msg('will/c2', 'bye', { qos: 1, retain: true, properties: { correlationData: Buffer.from('cd') } }), delayInterval: 5, dueAt: 123 };
      await store.saveSession(session('c2', { username: 'bob', inboundQos2: [3, 4], will, disconnectedAt: 42 }));
      await store.saveSession(session('c1', { expiryInterval: 10, subscriptions: [{ topicFilter: '$share/g/x', qos: 2, nl: true, rap: true, rh: 2, subscriptionIdentifier: 7 }] }));
      await reopen();
      const s = (await store.loadSessions()).sort((a, b) => a.clientId.localeCompare(b.clientId));
      assert.equal(s.length, 2);
      assert.deepEqual(s[0], session('c1', { expiryInterval: 10, subscriptions: [{ topicFilter: '$share/g/x', qos: 2, nl: true, rap: true, rh: 2, subscriptionIdentifier: 7 }] }));
      assert.deepEqual(s[1], session('c2', { username: 'bob', inboundQos2: [3, 4], will, disconnectedAt: 42 }));
      await store.deleteSession('c1');
      await store.deleteSession('unknown');
      await reopen();
      assert.deepEqual((await store.loadSessions()).map((x) => x.clientId), ['c2']);
    });

    it('returns the queue ordered by seq, per client', async () => {
      await store.enqueue('c1', [qm(1), qm(2)]);
      await store.enqueue('c2', [qm(1, 'other')]);
      await store.enqueue('c1', [qm(3), qm(4), qm(5)]);
      await store.enqueue('c1', []);
      await reopen();
      assert.deepEqual((await store.loadQueue('c1')).map((q) => q.seq), [1, 2, 3, 4, 5]);
      assert.deepEqual((await store.loadQueue('c2')).map((q) => q.message.payload.toString()), ['other']);
    });

    it('orders by seq even when entries arrive out of order', async () => {
      await store.enqueue('c1', [qm(10), qm(3)]);
      await store.enqueue('c1', [qm(7)]);
      await reopen();
      assert.deepEqual((await store.loadQueue('c1')).map((q) => q.seq), [3, 7, 10]);
    });

    it('updates an entry (messageId, QoS 2 state) without changing its message', async () => {
      const e = qm(1, 'payload-1', { qos: 2, subscriptionIdentifiers: [4] });
      await store.enqueue('c1', [e, qm(2)]);
      await store.updateQueued('c1', { ...e, messageId: 17, state: 'publish' });
      await store.updateQueued('c1', { ...e, messageId: 17, state: 'pubrel' });
      await reopen();
      const q = await store.loadQueue('c1');
      assert.deepEqual(q[0], { ...e, messageId: 17, state: 'pubrel' });
      assert.equal(q[0].message.payload.toString(), 'payload-1');
      assert.equal(q[1].messageId, undefined);
    });

    it("keeps the broker core's extra `share` field of queued entries", async () => {
      const e = { ...qm(1), share: '$share/g/t/#' };
      await store.enqueue('c1', [e]);
      await reopen();
      assert.equal(((await store.loadQueue('c1'))[0] as { share?: string }).share, '$share/g/t/#');
    });

    it('updateQueued inserts an entry that is not queued (upsert)', async () => {
      await store.updateQueued('c1', qm(9, 'late', { messageId: 3, state: 'publish', qos: 2 }));
      await reopen();
      assert.deepEqual(await store.loadQueue('c1'), [qm(9, 'late', { messageId: 3, state: 'publish', qos: 2 })]);
    });

    it('removes entries by seq; unknown seq is a no-op', async () => {
      await store.enqueue('c1', [qm(1), qm(2), qm(3)]);
      await store.removeQueued('c1', 2);
      await store.removeQueued('c1', 99);
      await store.removeQueued('nobody', 1);
      await reopen();
      assert.deepEqual((await store.loadQueue('c1')).map((q) => q.seq), [1, 3]);
      await store.removeQueued('c1', 1);
      await store.removeQueued('c1', 3);
      await reopen();
      assert.deepEqual(await store.loadQueue('c1'), []);
    });

    it('deleteSession also drops the queue of that session only', async () => {
      await store.saveSession(session('c1'));
      await store.enqueue('c1', [qm(1)]);
      await store.enqueue('c2', [qm(1)]);
      await store.deleteSession('c1');
      await store.enqueue('c1', [qm(5)]); // a new session's queue after the delete
      await reopen();
      assert.deepEqual((await store.loadQueue('c1')).map((q) => q.seq), [5]);
      assert.deepEqual((await store.loadQueue('c2')).map((q) => q.seq), [1]);
      assert.deepEqual(await store.loadSessions(), []);
    });

    it('keeps every write issued concurrently, in call order', async () => {
      const ops: Promise<void>[] = [];
      for (let i = 1; i <= 200; i++) ops.push(store.enqueue('c', [qm(i)]));
      for (let i = 1; i <= 200; i += 2) ops.push(store.removeQueued('c', i));
      ops.push(store.storeRetained(msg('r', 'x', { retain: true })));
      await Promise.all(ops);
      await reopen();
      const q = await store.loadQueue('c');
      assert.equal(q.length, 100);
      assert.deepEqual(q.map((e) => e.seq), Array.from({ length: 100 }, (_, i) => 2 * i + 2));
      assert.equal((await store.loadRetained()).length, 1);
    });
  });
}
