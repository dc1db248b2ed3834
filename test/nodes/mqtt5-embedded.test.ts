/**
 * The mqtt5 node suite against our own broker (src/broker): over TCP (external URL), and in-process
 * through the broker registry (the way an mqtt5-broker node in the same Node-RED is reached).
 */
import { createBroker } from '../../src/broker';
import type { Broker, BrokerOptions } from '../../src/broker/types';
import { registerBroker, unregisterBroker } from '../../src/nodes/shared/broker-registry';
import { freePort } from '../helpers/env';
import { AuthTarget, mqtt5Suite, Target } from './mqtt5-suite';

const AUTH: BrokerOptions = {
  users: [{ username: 'alice', password: 's3cret' }],
  allowAnonymous: false,
  acl: [
    { user: 'alice', topic: 'ok/#', access: 'readwrite' },
    { user: 'alice', topic: 'secret/#', access: 'read' },
  ],
  limits: { maxPacketSize: 4096 },
};

let brokerSeq = 0;

async function ourTarget(mode: 'tcp' | 'inprocess', extra: BrokerOptions = {}): Promise<Target> {
  const port = await freePort();
  const nodeId = `broker-node-${process.pid}-${++brokerSeq}`;
  let broker: Broker | undefined;
  const start = async (): Promise<void> => {
    const b = createBroker({ sysInterval: 0, ...extra, listeners: [{ type: 'tcp', port, host: '127.0.0.1' }] });
    await b.listen();
    broker = b;
    if (mode === 'inprocess') registerBroker(nodeId, b);
  };
  const stop = async (): Promise<void> => {
    const b = broker;
    broker = undefined;
    if (!b) return;
    if (mode === 'inprocess') unregisterBroker(nodeId, b);
    await b.close({ timeoutMs: 2000 });
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    client: (x = {}) =>
      mode === 'tcp'
        ? { brokerType: 'external', broker: `mqtt://127.0.0.1:${port}`, protocolVersion: '5', ...x }
        : { brokerType: 'embedded', embeddedBroker: nodeId, ...x },
    start,
    stop,
    close: stop,
  };
}

for (const mode of ['tcp', 'inprocess'] as const) {
  mqtt5Suite(`mqtt5 nodes × embedded broker (${mode === 'tcp' ? 'over TCP' : 'in-process'})`, {
    make: () => ourTarget(mode),
    async makeAuth(): Promise<AuthTarget> {
      const t = await ourTarget(mode, AUTH);
      return { ...t, user: 'alice', password: 's3cret', maxPacketSize: 4096, refusesSubscriptions: true };
    },
  });
}
