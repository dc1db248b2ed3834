/**
 * A shared subscription across two genuinely separate Node-RED runtimes: a real `node-red` process
 * (this package linked into its user directory) and the test's own runtime, each with an mqtt5-in
 * in the group "workers" on its own connection to our broker. Each job must be handled exactly once.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as mqtt from 'mqtt';
import { createBroker } from '../../src/broker';
import type { Broker } from '../../src/broker/types';
import { delay, freePort, ROOT, tmpDir, waitFor } from '../helpers/env';
import { FlowNode, MODULE, NodeRedInstance, startNodeRed } from '../package/nodered';
import { connectClient, endClient, helper, load, publish, startServer, stopServer, subscribe, TAB, waitConnected } from './mqtt5-harness';

function workerFlow(url: string, name: string): FlowNode[] {
  return [
    { id: 'tab2', type: 'tab', label: 'worker' },
    {
      id: 'cw', type: 'mqtt5-client', brokerType: 'external', broker: url, reconnectPeriod: 200,
      birthTopic: `workers/${name}/online`, birthPayload: 'online', birthQos: '1',
    },
    { id: 'win', type: 'mqtt5-in', z: 'tab2', client: 'cw', topic: 'jobs/#', shareGroup: 'workers', qos: '1', datatype: 'utf8', wires: [['wout']] },
    { id: 'wout', type: 'mqtt5-out', z: 'tab2', client: 'cw', topic: `results/${name}`, qos: '1', retain: 'false', wires: [] },
  ] as FlowNode[];
}

describe('mqtt5-in shared subscription across two Node-RED runtimes', function () {
  this.timeout(90000);
  let broker: Broker;
  let url: string;
  let nr: NodeRedInstance | undefined;
  let modules: string;
  let sub: mqtt.MqttClient | undefined;

  before(async function () {
    const port = await freePort();
    broker = createBroker({ sysInterval: 0, listeners: [{ type: 'tcp', port, host: '127.0.0.1' }] });
    await broker.listen();
    url = `mqtt://127.0.0.1:${port}`;
    // this checkout, linked as the installed package of the second runtime (no npm pack needed)
    modules = tmpDir('mqtt5hub-modules-');
    fs.symlinkSync(ROOT, path.join(modules, MODULE), 'dir');
    await startServer();
  });
  after(async function () {
    await endClient(sub);
    await helper.unload();
    await stopServer();
    await nr?.stop();
    await broker?.close();
    if (modules) fs.rmSync(modules, { recursive: true, force: true });
  });

  it('each job is handled by exactly one worker, and both runtimes take work', async function () {
    sub = await connectClient(url);
    const results: Array<{ topic: string; payload: string }> = [];
    const online = new Set<string>();
    sub.on('message', (topic, p) => {
      if (topic.startsWith('workers/')) online.add(topic.split('/')[1]!);
      else results.push({ topic, payload: p.toString() });
    });
    await subscribe(sub, 'results/#');
    await subscribe(sub, 'workers/+/online');

    nr = await startNodeRed({ modules, flows: workerFlow(url, 'nr2') });
    await load([TAB, ...workerFlow(url, 'nr1').filter((n) => n.type !== 'tab').map((n) => ({ ...n, z: n.z ? 'f1' : undefined }))]);
    await waitConnected('cw');
    await waitFor(() => online.has('nr1') && online.has('nr2'), 30000, `both runtimes online (log: ${nr.log().slice(-500)})`);
    await delay(500);

    const pub = await connectClient(url);
    try {
      const N = 40;
      for (let i = 0; i < N; i++) await publish(pub, `jobs/${i % 4}`, String(i));
      await waitFor(() => results.length >= N, 20000, 'all results');
      await delay(300);
      const handled = results.map((r) => Number(r.payload)).sort((a, b) => a - b);
      assert.deepEqual(handled, Array.from({ length: N }, (_, i) => i), 'every job exactly once');
      const by = (w: string): number => results.filter((r) => r.topic === `results/${w}`).length;
      assert.ok(by('nr1') > 0 && by('nr2') > 0, `both runtimes handled jobs (nr1 ${by('nr1')}, nr2 ${by('nr2')})`);
    } finally {
      await endClient(pub);
    }
  });
});
