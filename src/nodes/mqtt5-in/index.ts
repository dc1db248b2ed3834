/**
 * `mqtt5-in`: subscribes (static filter, or dynamic via msg.action) and outputs each message once.
 * Messages reach exactly the nodes whose subscription matched: routed by subscription identifier
 * (one per distinct filter), or by local filter matching when the broker has no identifiers.
 */
import type { QoS } from '../../broker/types';
import type { ClientController, SubscribeSpec, SubscriptionHandler } from '../shared/client-controller';
import { toNodeRedMessage } from '../shared/incoming';
import { describeValue, MessageError, OutputFormat } from '../shared/messages';
import { attachClient } from '../shared/node-glue';
import { isFailure, reasonText } from '../shared/reason-codes';
import { fullFilter, validateShareGroup, validateTopicFilter } from '../shared/topics';

interface InConfig {
  client?: string;
  topic?: string;
  qos?: string | number;
  shareGroup?: string;
  nl?: boolean;
  rap?: boolean;
  rh?: string | number;
  datatype?: OutputFormat;
  inputs?: number;
}

const FORMATS: OutputFormat[] = ['auto', 'utf8', 'buffer', 'json', 'base64'];

function specFrom(v: unknown, dflt: Partial<SubscribeSpec> & { shareGroup?: string }): SubscribeSpec {
  let o: Record<string, unknown>;
  if (typeof v === 'string') o = { topic: v };
  else if (v && typeof v === 'object' && !Array.isArray(v)) o = v as Record<string, unknown>;
  else throw new MessageError(`subscription must be a topic string or {topic, qos, ...} (got ${describeValue(v)})`);
  const topic = o.topic;
  const err = validateTopicFilter(topic);
  if (err) throw new MessageError(err);
  const group = (o.shareGroup ?? o.share ?? dflt.shareGroup) as string | undefined;
  if (group) {
    const ge = validateShareGroup(group);
    if (ge) throw new MessageError(ge);
  }
  const nl = o.nl ?? dflt.nl;
  if (group && nl) {
    // a protocol error: the broker would close the connection, for every node that shares it
    throw new MessageError(`No Local cannot be used with a shared subscription ($share/${group}/…; MQTT 5 section 3.8.3.1)`);
  }
  const qos = o.qos ?? dflt.qos ?? 0;
  const q = Number(qos);
  if (q !== 0 && q !== 1 && q !== 2) throw new MessageError(`qos must be 0, 1 or 2 (got ${describeValue(qos)})`);
  const rh = Number(o.rh ?? dflt.rh ?? 0);
  if (rh !== 0 && rh !== 1 && rh !== 2) throw new MessageError(`rh (retain handling) must be 0, 1 or 2 (got ${describeValue(o.rh)})`);
  return {
    filter: fullFilter(topic as string, group || undefined),
    qos: q as QoS,
    ...(nl ? { nl: true } : {}),
    ...((o.rap ?? dflt.rap) ? { rap: true } : {}),
    ...(rh ? { rh: rh as 0 | 1 | 2 } : {}),
  };
}

export = function (RED: any): void {
  function Mqtt5InNode(this: any, config: InConfig): void {
    RED.nodes.createNode(this, config);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED node constructors use `this`
    const node = this;
    const format: OutputFormat = FORMATS.includes(config.datatype as OutputFormat) ? (config.datatype as OutputFormat) : 'auto';
    const dynamic = Number(config.inputs) === 1;
    let subError: string | undefined;
    // dynamic nodes show how many filters they are subscribed to
    const extra = (c: ClientController): string | undefined => {
      if (!dynamic) return undefined;
      const n = c.subscriptionsOf(node).length;
      return `${n} subscription${n === 1 ? '' : 's'}`;
    };
    const controller = attachClient(RED, node, config.client, extra, (s) =>
      subError && s.state === 'connected' ? { fill: 'red', shape: 'ring', text: subError } : undefined,
    );
    if (!controller) {
      // a dynamic node still gets messages: each one is an error (Catch), never silently dropped
      node.on('input', (_msg: unknown, _send: unknown, done: (e?: Error) => void) => done(new Error('no usable mqtt5-client configured')));
      return;
    }

    const handler: SubscriptionHandler = {
      onMessage(m) {
        const { msg, error } = toNodeRedMessage(m, format);
        if (error) {
          node.error(`${error} (topic "${m.topic}")`, msg);
          return;
        }
        node.send(msg);
      },
      onSubscribed(filter, code) {
        if (isFailure(code)) {
          subError = `subscribe to "${filter}" refused: ${reasonText(code)}`;
          // with a msg, so that Catch nodes see it
          node.error(subError, { topic: filter, reasonCode: code, payload: subError });
        } else subError = undefined;
        node.refreshStatus?.();
      },
    };

    const dflt = {
      qos: Number(config.qos ?? 0) as QoS,
      ...(config.shareGroup ? { shareGroup: config.shareGroup } : {}),
      ...(config.nl ? { nl: true } : {}),
      ...(config.rap ? { rap: true } : {}),
      rh: Number(config.rh ?? 0) as 0 | 1 | 2,
    };

    if (!dynamic) {
      try {
        controller.subscribe(node, specFrom({ topic: config.topic }, dflt), handler);
      } catch (e) {
        subError = (e as Error).message;
        node.status({ fill: 'red', shape: 'ring', text: subError });
        node.error(subError);
      }
    }

    node.on('input', (msg: any, send: (m: unknown) => void, done: (e?: Error) => void) => {
      const action = typeof msg.action === 'string' ? msg.action.toLowerCase() : msg.action;
      try {
        if (action === 'subscribe') {
          const list = Array.isArray(msg.topic) ? msg.topic : [msg.topic];
          const specs = list.map((t: unknown) =>
            specFrom(t, { ...dflt, ...(msg.qos !== undefined ? { qos: msg.qos } : {}) }),
          );
          for (const s of specs) controller.subscribe(node, s, handler);
          node.refreshStatus?.();
        } else if (action === 'unsubscribe') {
          if (msg.topic === true || msg.topic === undefined) {
            for (const s of controller.subscriptionsOf(node)) controller.unsubscribe(node, s.filter);
          } else {
            const list = Array.isArray(msg.topic) ? msg.topic : [msg.topic];
            for (const t of list) {
              const f = typeof t === 'string' ? t : fullFilter(String(t?.topic), t?.shareGroup ?? t?.share);
              const full = controller.subscriptionsOf(node).some((s) => s.filter === f) ? f : fullFilter(f, dflt.shareGroup);
              controller.unsubscribe(node, full);
            }
          }
          node.refreshStatus?.();
        } else if (action === 'getsubscriptions') {
          msg.payload = controller.subscriptionsOf(node).map((s) => ({ ...s, topic: s.filter }));
          send(msg);
        } else {
          throw new MessageError(
            `msg.action must be "subscribe", "unsubscribe" or "getSubscriptions" (got ${describeValue(msg.action)})`,
          );
        }
        done();
      } catch (e) {
        done(e as Error);
      }
    });
  }
  RED.nodes.registerType('mqtt5-in', Mqtt5InNode);
};
