import assert from 'node:assert/strict';
import { RawClient, startBroker, type TestBroker } from './helpers';

describe('broker core: shared subscriptions ($share)', function () {
  let broker: TestBroker;
  before(async () => {
    ({ broker } = await startBroker());
  });
  after(async () => {
    await broker.close();
  });

  async function member(id: string, filter: string, props: any = {}): Promise<RawClient> {
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: id, properties: props });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] });
    const ack = await c.next('suback');
    assert.deepEqual(ack.granted, [1]);
    return c;
  }

  it('each message goes to exactly one member, round robin; other groups and plain subscribers get their own copy', async () => {
    const a = await member('sh-a', '$share/g1/share/rr/#');
    const b = await member('sh-b', '$share/g1/share/rr/#');
    const other = await member('sh-other', '$share/g2/share/rr/#');
    const plain = await member('sh-plain', 'share/rr/#');
    for (let i = 0; i < 4; i++) await broker.publish({ topic: 'share/rr/x', payload: String(i), qos: 1 });
    const take = async (c: RawClient, n: number): Promise<string[]> => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const p = await c.next('publish');
        c.send({ cmd: 'puback', messageId: p.messageId });
        out.push(p.payload.toString());
      }
      return out;
    };
    const ga = await take(a, 2);
    const gb = await take(b, 2);
    assert.deepEqual([...ga, ...gb].sort(), ['0', '1', '2', '3']);
    assert.equal(await a.none('publish', 100), true);
    assert.equal(await b.none('publish', 50), true);
    assert.deepEqual(await take(other, 4), ['0', '1', '2', '3']);
    assert.deepEqual(await take(plain, 4), ['0', '1', '2', '3']);
    for (const c of [a, b, other, plain]) c.end();
  });

  it('sends no retained messages for a $share subscription', async () => {
    await broker.publish({ topic: 'share/ret', payload: 'r', qos: 1, retain: true });
    const a = await member('sh-ret', '$share/g/share/ret');
    assert.equal(await a.none('publish', 150), true);
    a.end();
  });

  it('invalid share names / filters -> 0x8F; No Local on a share -> DISCONNECT 0x82', async () => {
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'sh-bad' });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: ['$share//x', '$share/g+/x', '$share/g', '$share/g/', '$share/g#/a'].map((topic) => ({ topic, qos: 0 })) });
    assert.deepEqual((await c.next('suback')).granted, [0x8f, 0x8f, 0x8f, 0x8f, 0x8f]);
    c.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: '$share/g/x', qos: 0, nl: true }] });
    assert.equal((await c.next('disconnect')).reasonCode, 0x82);
  });

  it('skips a member whose inflight window is full', async () => {
    const slow = await member('sh-slow', '$share/gw/share/win', { receiveMaximum: 1 });
    const fast = await member('sh-fast', '$share/gw/share/win');
    for (let i = 0; i < 6; i++) await broker.publish({ topic: 'share/win', payload: String(i), qos: 1 });
    const fromSlow = await slow.next('publish'); // never acknowledged
    const fastGot: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = await fast.next('publish');
      fast.send({ cmd: 'puback', messageId: p.messageId });
      fastGot.push(p.payload.toString());
    }
    assert.equal(await slow.none('publish', 100), true);
    assert.deepEqual([fromSlow.payload.toString(), ...fastGot].sort(), ['0', '1', '2', '3', '4', '5']);
    slow.end();
    fast.end();
  });

  it("a leaving member's unacknowledged group messages go to the remaining members", async () => {
    const leaver = await member('sh-leave', '$share/gl/share/leave');
    const stayer = await member('sh-stay', '$share/gl/share/leave');
    await broker.publish({ topic: 'share/leave', payload: 'first', qos: 1 });
    await broker.publish({ topic: 'share/leave', payload: 'second', qos: 1 });
    const l = await leaver.next('publish');
    const s = await stayer.next('publish');
    stayer.send({ cmd: 'puback', messageId: s.messageId });
    leaver.end(); // network loss without PUBACK
    const again = await stayer.next('publish');
    assert.equal(again.payload.toString(), l.payload.toString());
    stayer.send({ cmd: 'puback', messageId: again.messageId });
    stayer.end();
  });

  it("a stalled member's queued group messages move to a member that makes progress", async function () {
    this.timeout(15000);
    const stuck = await member('sh-stuck', '$share/gs/share/stall', { receiveMaximum: 1 });
    const live = await member('sh-live', '$share/gs/share/stall', { receiveMaximum: 1 });
    for (let i = 0; i < 6; i++) await broker.publish({ topic: 'share/stall', payload: String(i), qos: 1 });
    const first = await stuck.next('publish'); // never acknowledged: the member is stuck
    const got: string[] = [];
    while (got.length < 5) {
      const p = await live.next('publish', 8000);
      live.send({ cmd: 'puback', messageId: p.messageId });
      got.push(p.payload.toString());
    }
    assert.deepEqual([first.payload.toString(), ...got].sort(), ['0', '1', '2', '3', '4', '5']);
    stuck.end();
    live.end();
  });
});
