/**
 * `mqtt5-out`: publishes msg with MQTT 5 properties. done() is called when the broker acknowledged
 * the message (QoS 1/2) or it was written (QoS 0); refusals and invalid messages go to done(err), so
 * Catch nodes see them. While offline, QoS 1/2 messages wait in the client's offline queue.
 */
import { OfflineDropError } from '../shared/client-controller';
import { entriesToUserProperties } from '../shared/messages';
import { attachClient } from '../shared/node-glue';
import { buildPublish, PublishConfig } from '../shared/publish-builder';

interface OutConfig extends PublishConfig {
  client?: string;
}

export = function (RED: any): void {
  function Mqtt5OutNode(this: any, config: OutConfig): void {
    RED.nodes.createNode(this, config);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED node constructors use `this`
    const node = this;
    const controller = attachClient(RED, node, config.client);
    const evaluate = RED.util.evaluateNodeProperty;
    const nodeProps = entriesToUserProperties(config.userProps);

    node.on('input', (msg: any, _send: unknown, done: (e?: Error) => void) => {
      if (!controller) return done(new Error('no usable mqtt5-client configured'));
      let out;
      try {
        out = buildPublish(evaluate, node, config, msg, nodeProps);
      } catch (e) {
        return done(e as Error);
      }
      controller.publish(out).then(
        () => done(),
        (e: Error) => {
          if (e instanceof OfflineDropError) {
            // counted and shown in the status; a warning, not an error (QoS 0 is fire-and-forget)
            node.warn(e.message);
            return done();
          }
          const rc = (e as { reasonCode?: number }).reasonCode;
          if (typeof rc === 'number') msg.reasonCode = rc;
          done(e);
        },
      );
    });
  }
  RED.nodes.registerType('mqtt5-out', Mqtt5OutNode);
};
