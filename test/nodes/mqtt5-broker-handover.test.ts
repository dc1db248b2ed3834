/**
 * Deploy handover bookkeeping (process-global park/take map, grace period, runtime events).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { closeAllParked, hookRuntimeEvents, isShuttingDown, park, parkedIds, settled, take } from '../../src/nodes/mqtt5-broker/handover';
import type { BrokerRuntime } from '../../src/nodes/mqtt5-broker/runtime';
import { delay, waitFor } from '../helpers/env';

/** Stands in for a BrokerRuntime: only detach() and close() are used by the handover map. */
function fakeRuntime(): BrokerRuntime & { closes: number; detached: number } {
  const rt = {
    closes: 0,
    detached: 0,
    detach() {
      rt.detached++;
    },
    close() {
      rt.closes++;
      return Promise.resolve();
    },
  };
  return rt as unknown as BrokerRuntime & { closes: number; detached: number };
}

describe('mqtt5-broker deploy handover', function () {
  afterEach(async function () {
    await closeAllParked();
    await settled();
  });

  it('a parked broker is taken once by the next instance of the same node', function () {
    const rt = fakeRuntime();
    park('n1', rt, 10000);
    assert.equal(rt.detached, 1);
    assert.deepEqual(parkedIds(), ['n1']);
    assert.equal(take('n2'), undefined);
    assert.equal(take('n1'), rt);
    assert.equal(take('n1'), undefined);
    assert.equal(rt.closes, 0);
  });

  it('closes a broker nobody adopts within the grace period, and an older parked one at once', async function () {
    const a = fakeRuntime();
    const b = fakeRuntime();
    park('n1', a, 10000);
    park('n1', b, 50);
    assert.equal(a.closes, 1, 'replaced parked broker closed');
    await waitFor(() => b.closes === 1, 2000, 'grace period expiry');
    assert.deepEqual(parkedIds(), []);
  });

  it('runtime events: a deploy parks, a runtime stop closes, flows:started sweeps unadopted brokers', async function () {
    const events = new EventEmitter();
    hookRuntimeEvents(events);
    hookRuntimeEvents(events); // idempotent
    assert.equal(events.listenerCount('flows:started'), 1);

    events.emit('flows:stopping', { type: 'full', diff: { added: [], changed: [], removed: [], globalConfigChanged: false } });
    assert.equal(isShuttingDown(), false, 'a deploy diff (from diffConfigs) is not a shutdown');
    events.emit('flows:stopping', { type: 'full', diff: { added: [], changed: [], removed: [] } });
    assert.equal(isShuttingDown(), true, 'runtime stop');

    const rt = fakeRuntime();
    park('n1', rt, 10000);
    events.emit('flows:started', {});
    assert.equal(isShuttingDown(), false);
    await delay(10);
    assert.equal(rt.closes, 1, 'unadopted broker closed once the flows started');

    const rt2 = fakeRuntime();
    park('n2', rt2, 10000);
    events.emit('runtime-event', { id: 'runtime-state', payload: { state: 'stop', deploy: true } });
    assert.equal(rt2.closes, 0, 'a deploy stop keeps it parked');
    events.emit('runtime-event', { id: 'runtime-state', payload: { state: 'stop' } });
    assert.equal(rt2.closes, 1, 'a runtime stop closes it');
  });
});
