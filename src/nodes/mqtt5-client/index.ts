/**
 * `mqtt5-client` config node: one MQTT connection (embedded broker in-process, or an external
 * broker by URL) shared by every mqtt5-in / mqtt5-out / mqtt5-request node that uses it.
 * It connects when the first node registers and disconnects on redeploy / shutdown.
 */
import type { ClientController } from '../shared/client-controller';
import { ClientConfig, createController } from '../shared/client-config';

interface ClientNode {
  id: string;
  controller?: ClientController;
  configError?: string;
}

export = function (RED: any): void {
  function Mqtt5ClientNode(this: any, config: ClientConfig): void {
    RED.nodes.createNode(this, config);
    const node = this as ClientNode & Record<string, any>;
    let tls: Record<string, unknown> | undefined;
    if (config.brokerType !== 'embedded' && config.usetls && config.tls) {
      const tlsNode = RED.nodes.getNode(config.tls);
      if (tlsNode && typeof tlsNode.addTLSOptions === 'function') {
        tls = {};
        tlsNode.addTLSOptions(tls);
      }
    }
    try {
      node.controller = createController(config, node.credentials ?? {}, tls);
      node.controller.on('warn', (w) => node.warn(w));
    } catch (e) {
      node.configError = (e as Error).message;
      node.error(node.configError);
    }
    node.on('close', (_removed: boolean, done: () => void) => {
      const c = node.controller;
      node.controller = undefined;
      if (!c) return done();
      c.close().then(done, done);
    });
  }
  RED.nodes.registerType('mqtt5-client', Mqtt5ClientNode, {
    credentials: { user: { type: 'text' }, password: { type: 'password' } },
  });
};
