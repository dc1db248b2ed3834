/**
 * PUBLISH from a client (MQTT 5 section 3.3): topic aliases in, validation, Receive Maximum,
 * payload format, authorization, retain, routing and the PUBACK / PUBREC answer.
 */
import type { BrokerMessage, PublishProperties, QoS } from '../types';
import { Connection } from '../connection';
import { RC } from '../capabilities';
import { isPromise } from '../hooks';
import { isValidUtf8, validateTopicName } from '../routing/topics';

export function handlePublish(c: Connection, p: any): void {
  const broker = c.broker;
  const limits = broker.limits;
  const s = c.session!;
  const v5 = c.protocolVersion === 5;
  const qos = p.qos as QoS;
  const id: number = p.messageId;
  // [MQTT-2.2.1-3] a QoS>0 PUBLISH carries a non-zero packet id; [MQTT-3.3.1-2] DUP is 0 at QoS 0
  if (qos > 0 && !id) return c.close(RC.PROTOCOL_ERROR, 'packet identifier 0');
  if (qos === 0 && p.dup) return c.close(RC.MALFORMED_PACKET, 'DUP set on a QoS 0 PUBLISH');
  let topic: string = p.topic;
  const props = p.properties;
  let msgProps: PublishProperties | undefined;
  if (v5 && props !== undefined) {
    const alias = props.topicAlias;
    if (alias !== undefined) {
      // [MQTT-3.3.2-9] [MQTT-3.3.2-10] alias 0 or above our Topic Alias Maximum: DISCONNECT 0x94.
      if (alias === 0 || alias > limits.topicAliasMaximum) return c.close(RC.TOPIC_ALIAS_INVALID, 'topic alias out of range');
      if (topic === '') {
        const t = c.aliasIn?.get(alias);
        // 3.3.2.3.4: an alias the receiver has no mapping for is a Protocol Error.
        if (t === undefined) return c.close(RC.PROTOCOL_ERROR, 'unknown topic alias');
        topic = t;
      } else (c.aliasIn ??= new Map()).set(alias, topic); // [MQTT-3.3.2-12] the mapping is per connection
    }
    // [MQTT-3.3.4-6] a client must not send a Subscription Identifier in PUBLISH.
    if (props.subscriptionIdentifier !== undefined) return c.close(RC.PROTOCOL_ERROR, 'subscription identifier in PUBLISH');
    msgProps = {};
    let any = false;
    if (props.payloadFormatIndicator !== undefined) {
      msgProps.payloadFormatIndicator = props.payloadFormatIndicator;
      any = true;
    }
    if (props.messageExpiryInterval !== undefined) {
      msgProps.messageExpiryInterval = props.messageExpiryInterval;
      any = true;
    }
    if (props.responseTopic !== undefined) {
      // [MQTT-3.3.2-14] the Response Topic must be a valid topic name.
      if (validateTopicName(props.responseTopic, limits)) return c.close(RC.PROTOCOL_ERROR, 'invalid response topic');
      msgProps.responseTopic = props.responseTopic;
      any = true;
    }
    if (props.correlationData !== undefined) {
      msgProps.correlationData = props.correlationData;
      any = true;
    }
    if (props.userProperties !== undefined) {
      msgProps.userProperties = props.userProperties;
      any = true;
    }
    if (props.contentType !== undefined) {
      msgProps.contentType = props.contentType;
      any = true;
    }
    if (!any) msgProps = undefined;
  }
  // [MQTT-3.3.2-2] [MQTT-4.7.3-1] topic name valid, no wildcards.
  if (validateTopicName(topic, limits)) return c.close(RC.TOPIC_NAME_INVALID, 'invalid topic name');
  // 3.2.2.3.4 (and [MQTT-3.2.2-11] for the client): QoS above our Maximum QoS -> DISCONNECT 0x9B.
  if (qos > limits.maximumQoS) return c.close(RC.QOS_NOT_SUPPORTED, 'QoS not supported');
  // 3.2.2.3.5 (and [MQTT-3.2.2-14] for the client): RETAIN while Retain Available is 0 -> DISCONNECT 0x9A.
  if (p.retain && !limits.retainAvailable) return c.close(RC.RETAIN_NOT_SUPPORTED, 'retain not supported');
  if (qos === 2 && s.inboundQos2 !== null && s.inboundQos2.has(id)) {
    // [MQTT-4.3.3-10] until PUBREL, a PUBLISH with the same id is answered PUBREC and not delivered again.
    sendAck(c, 'pubrec', id, 0, undefined);
    return;
  }
  if (qos > 0) {
    // [MQTT-3.3.4-7] more unacknowledged QoS>0 PUBLISHes than our Receive Maximum: 0x93.
    const inflightIn = (s.inboundQos2 === null ? 0 : s.inboundQos2.size) + c.pendingInbound;
    if (inflightIn >= limits.receiveMaximum) return c.close(RC.RECEIVE_MAXIMUM_EXCEEDED, 'receive maximum exceeded');
  }
  const payload: Buffer = p.payload;
  if (msgProps !== undefined && msgProps.payloadFormatIndicator && !isValidUtf8(payload)) {
    // 3.3.2.3.2: payload format indicator 1 with a payload that is not UTF-8 -> 0x99 (ack or DISCONNECT);
    // the indicator itself is forwarded unaltered [MQTT-3.3.2-4].
    if (qos === 0) return c.close(RC.PAYLOAD_FORMAT_INVALID, 'payload is not valid UTF-8');
    broker.countDrop(c.identity.clientId, topic, 'payload format invalid');
    sendAck(c, qos === 1 ? 'puback' : 'pubrec', id, RC.PAYLOAD_FORMAT_INVALID, 'payload is not valid UTF-8');
    return;
  }
  const msg: BrokerMessage = { topic, payload, qos, retain: p.retain === true, origin: c.identity.clientId };
  if (msgProps !== undefined) {
    msg.properties = msgProps;
    if (msgProps.messageExpiryInterval !== undefined) msg.receivedAt = Date.now();
  }
  if (!broker.hooks.hasPublish) return accepted(c, msg, id, 0);
  const r = broker.hooks.authorizePublish(c.identity, msg);
  if (!isPromise<number>(r)) return accepted(c, msg, id, r);
  c.suspend();
  if (qos > 0) c.pendingInbound++;
  r.then(
    (rc) => {
      if (qos > 0) c.pendingInbound--;
      accepted(c, msg, id, rc);
      c.resume();
    },
    () => {
      if (qos > 0) c.pendingInbound--;
      accepted(c, msg, id, RC.NOT_AUTHORIZED);
      c.resume();
    },
  );
}

function accepted(c: Connection, msg: BrokerMessage, id: number, rc: number): void {
  if (c.state === 3 /* closed */) return;
  const qos = msg.qos;
  if (rc !== 0) {
    // refused by authorization: MQTT 5 acks carry the reason; QoS 0 cannot, so it is counted
    c.broker.countDrop(c.identity.clientId, msg.topic, `publish not authorized (0x${rc.toString(16)})`);
    if (qos === 1) sendAck(c, 'puback', id, rc, 'not authorized');
    else if (qos === 2) sendAck(c, 'pubrec', id, rc, 'not authorized');
    return;
  }
  const broker = c.broker;
  broker.pressureTarget = null;
  let n: number;
  let ops: Array<Promise<unknown>> | null = null;
  if (qos === 0) n = broker.acceptPublish(msg, c.identity);
  else ({ n, ops } = broker.acceptDurably(msg, c.identity));
  const target = broker.pressureTarget as unknown;
  if (target !== null) {
    // a recipient is congested: stop reading from this publisher until it drains (flow control)
    broker.pressureTarget = null;
    if (target instanceof Connection) c.throttle(target);
  }
  if (qos === 0) return;
  // 0x10 No matching subscribers is a success code (3.4.2.1).
  const code = n === 0 ? RC.NO_MATCHING_SUBSCRIBERS : 0;
  const cmd = qos === 1 ? 'puback' : 'pubrec';
  if (qos === 2) (c.session!.inboundQos2 ??= new Set()).add(id);
  if ((ops === null || ops.length === 0) && c.acksWaiting === 0) {
    sendAck(c, cmd, id, code, undefined);
    return;
  }
  // the message went to the store (persistent sessions, retained): acknowledge once it is
  // durable, keeping the order of acknowledgements
  c.acksWaiting++;
  if (qos === 1) c.pendingInbound++;
  const waitFor = ops !== null && ops.length > 0 ? Promise.all(ops) : null;
  c.ackChain = (c.ackChain ?? Promise.resolve()).then(() => waitFor).then(() => {
    c.acksWaiting--;
    if (qos === 1) c.pendingInbound--;
    if (c.acksWaiting === 0) c.ackChain = null;
    if (c.state !== 3 /* closed */) sendAck(c, cmd, id, code, undefined);
  });
}

export function sendAck(c: Connection, cmd: string, messageId: number, reasonCode: number, reasonString: string | undefined): void {
  if (c.protocolVersion !== 5 || (reasonCode === 0 && reasonString === undefined)) {
    c.sendAck(cmd, messageId);
    return;
  }
  {
    const packet: any = { cmd, messageId, reasonCode };
    const props = c.reasonProps(reasonString);
    if (props) packet.properties = props;
    c.send(packet);
  }
}
