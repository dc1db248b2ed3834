/** Incoming MQTT message → Node-RED msg (mqtt5-in and mqtt5-request). */
import type { IncomingMessage } from './connection';
import { decodePayload, MessageError, OutputFormat, outputUserProperties } from './messages';

/** Turns an incoming MQTT message into a Node-RED msg (payload decoded as `format`). */
export function toNodeRedMessage(m: IncomingMessage, format: OutputFormat): { msg: Record<string, unknown>; error?: string } {
  const p = m.properties ?? {};
  const msg: Record<string, unknown> = { topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain };
  const up = outputUserProperties(p.userProperties);
  if (up) msg.userProperties = up;
  if (p.contentType !== undefined) msg.contentType = p.contentType;
  if (p.responseTopic !== undefined) msg.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) msg.correlationData = p.correlationData;
  if (p.messageExpiryInterval !== undefined) msg.messageExpiryInterval = p.messageExpiryInterval;
  if (p.payloadFormatIndicator !== undefined) msg.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.subscriptionIdentifier !== undefined) msg.subscriptionIdentifier = p.subscriptionIdentifier;
  try {
    // decodePayload reads only contentType and payloadFormatIndicator
    msg.payload = decodePayload(m.payload, format, p);
    return { msg };
  } catch (e) {
    msg.payload = m.payload.toString('utf8');
    return { msg, error: e instanceof MessageError ? e.message : String(e) };
  }
}

