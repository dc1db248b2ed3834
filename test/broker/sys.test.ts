import assert from 'node:assert/strict';
import { startBroker } from './helpers';
import { waitFor } from '../helpers/env';
import type { InProcessMessage } from '../../src/broker';

describe('broker core: $SYS', function () {
  it('publishes retained $SYS/broker/... statistics every sysInterval; # does not match them', async () => {
    const { broker } = await startBroker({ sysInterval: 1 });
    const all = await broker.connectInProcess({ clientId: 'sys-all' });
    const hashGot: InProcessMessage[] = [];
    all.on('message', (m) => hashGot.push(m));
    await all.subscribe([{ topicFilter: '#', qos: 0 }]);
    const sys = await broker.connectInProcess({ clientId: 'sys-reader' });
    const got = new Map<string, string>();
    sys.on('message', (m) => got.set(m.topic, m.payload.toString()));
    await sys.subscribe([{ topicFilter: '$SYS/#', qos: 0 }]);
    // retained values arrive at once on subscribe
    for (const t of ['version', 'uptime', 'clients/connected', 'clients/total', 'clients/maximum', 'messages/received', 'messages/sent', 'messages/dropped', 'bytes/received', 'bytes/sent', 'subscriptions/count', 'retained messages/count']) {
      assert.ok(got.has(`$SYS/broker/${t}`), `missing $SYS/broker/${t}`);
    }
    await all.publish('sys/x', 'x');
    got.clear();
    await waitFor(() => got.get('$SYS/broker/clients/connected') === '2', 4000, 'refreshed $SYS values');
    assert.ok(Number(got.get('$SYS/broker/messages/received')) >= 1);
    assert.ok(hashGot.every((m) => !m.topic.startsWith('$')), '# must not match $SYS');
    await broker.close();
  });
});
