/** Glue shared by the mqtt5-in / -out / -request runtimes: find the client, show its status. */
import type { ClientController, ClientStatus } from './client-controller';
import { NodeStatus, statusFor } from './node-status';

/**
 * Registers `node` with the client config node `clientId` and mirrors the connection status on the
 * node (with `extra` text, e.g. the subscribed filter). Returns undefined (status + error shown)
 * when there is no usable client. Deregisters on the node's close.
 */
export function attachClient(
  RED: any,
  node: any,
  clientId: string | undefined,
  extra?: (controller: ClientController) => string | undefined,
  override?: (s: ClientStatus) => NodeStatus | undefined,
): ClientController | undefined {
  const cfgNode = clientId ? RED.nodes.getNode(clientId) : undefined;
  if (!cfgNode) {
    node.status({ fill: 'red', shape: 'ring', text: 'no mqtt5-client configured' });
    node.error('missing mqtt5-client configuration: select or create a client in the node settings');
    return undefined;
  }
  const controller: ClientController | undefined = cfgNode.controller;
  if (!controller) {
    const why = cfgNode.configError ?? 'client configuration invalid';
    node.status({ fill: 'red', shape: 'ring', text: why });
    node.error(`mqtt5-client: ${why}`);
    return undefined;
  }
  const show = (s: ClientStatus): void => node.status(override?.(s) ?? statusFor(s, extra?.(controller)));
  controller.on('status', show);
  controller.register(node);
  show(controller.status);
  node.on('close', (removed: boolean, done: () => void) => {
    controller.off('status', show);
    controller.deregister(node, removed === true);
    done();
  });
  (node as { refreshStatus?: () => void }).refreshStatus = () => show(controller.status);
  return controller;
}
