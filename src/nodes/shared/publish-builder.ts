/**
 * Builds the MQTT message the out and request nodes publish from the node's settings and `msg`.
 * Node settings left empty fall back to the msg property of the same name; typed inputs
 * (msg / flow / global / env / str / num) are evaluated with RED.util.evaluateNodeProperty.
 * Throws MessageError with a precise text on any invalid value.
 */
import type { PublishProperties, QoS, UserProperties } from '../../broker/types';
import type { OutgoingMessage } from './connection';
import {
  encodePayload,
  entriesToUserProperties,
  MessageError,
  mergeUserProperties,
  normalizeUserProperties,
  toCorrelationData,
  UserPropertyEntry,
  describeValue,
  validUtf8,
} from './messages';
import { validatePublishTopic } from './topics';

export interface PublishConfig {
  topic?: string;
  /** '0' | '1' | '2', or '' = msg.qos (default 0) */
  qos?: string;
  /** 'true' | 'false', or '' = msg.retain (default false) */
  retain?: string;
  userProps?: UserPropertyEntry[];
  contentType?: string;
  contentTypeType?: string;
  responseTopic?: string;
  responseTopicType?: string;
  correlationData?: string;
  correlationDataType?: string;
  messageExpiry?: string;
  messageExpiryType?: string;
  /** 'true' | 'false', or '' = msg.payloadFormatIndicator */
  payloadFormat?: string;
  /** When msg.responseTopic is set: publish the reply to it, with msg.correlationData. */
  replyMode?: boolean;
}

type Msg = Record<string, any>;
type Evaluate = (value: string, type: string, node: unknown, msg: Msg) => unknown;

export function parseQos(v: unknown, what: string): QoS {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (n === 0 || n === 1 || n === 2) return n;
  throw new MessageError(`${what} must be 0, 1 or 2 (got ${describeValue(v)})`);
}

function parseBool(v: unknown, what: string): boolean {
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false' || v === undefined || v === null || v === '') return false;
  throw new MessageError(`${what} must be true or false (got ${describeValue(v)})`);
}

/** Value of a setting: the typed input when set, else msg[prop]. */
function field(
  evaluate: Evaluate,
  node: unknown,
  msg: Msg,
  value: string | undefined,
  type: string | undefined,
  prop: string,
): unknown {
  const t = type || 'str';
  if (t === 'msg') return value ? evaluate(value, 'msg', node, msg) : msg[prop];
  if (value === undefined || value === '') return msg[prop];
  return evaluate(value, t, node, msg);
}

export function buildPublish(
  evaluate: Evaluate,
  node: unknown,
  cfg: PublishConfig,
  msg: Msg,
  nodeUserProps: UserProperties = entriesToUserProperties(cfg.userProps),
): OutgoingMessage {
  const reply = !!cfg.replyMode && typeof msg.responseTopic === 'string' && msg.responseTopic !== '';
  const topic: unknown = reply ? msg.responseTopic : cfg.topic ? cfg.topic : msg.topic;
  const terr = validatePublishTopic(topic);
  if (terr) throw new MessageError(topic === undefined || topic === '' ? 'topic is empty: set the node topic or msg.topic' : terr);

  const qos = cfg.qos === undefined || cfg.qos === '' ? (msg.qos === undefined ? 0 : parseQos(msg.qos, 'msg.qos')) : parseQos(cfg.qos, 'QoS');
  const retain = cfg.retain === undefined || cfg.retain === '' ? parseBool(msg.retain, 'msg.retain') : cfg.retain === 'true';
  const payload = encodePayload(msg.payload);

  const properties: PublishProperties = {};
  const mup = msg.userProperties;
  // nothing to merge when neither the node nor the msg has user properties
  if ((mup !== undefined && mup !== null) || Object.keys(nodeUserProps).length) {
    const up = mergeUserProperties(nodeUserProps, normalizeUserProperties(mup));
    if (Object.keys(up).length) properties.userProperties = up;
  }

  const ct = field(evaluate, node, msg, cfg.contentType, cfg.contentTypeType, 'contentType');
  if (ct !== undefined && ct !== null && ct !== '') {
    if (typeof ct !== 'string') throw new MessageError(`content type must be a string (got ${typeof ct})`);
    properties.contentType = ct;
  }

  if (reply) {
    if (msg.correlationData !== undefined) properties.correlationData = toCorrelationData(msg.correlationData);
  } else {
    const rt = field(evaluate, node, msg, cfg.responseTopic, cfg.responseTopicType, 'responseTopic');
    if (rt !== undefined && rt !== null && rt !== '') {
      const e = validatePublishTopic(rt);
      if (e) throw new MessageError(`response topic: ${e}`);
      properties.responseTopic = rt as string;
    }
    const cd = field(evaluate, node, msg, cfg.correlationData, cfg.correlationDataType, 'correlationData');
    if (cd !== undefined && cd !== null && cd !== '') properties.correlationData = toCorrelationData(cd);
  }

  const me = field(evaluate, node, msg, cfg.messageExpiry, cfg.messageExpiryType, 'messageExpiryInterval');
  if (me !== undefined && me !== null && me !== '') {
    const n = typeof me === 'string' ? Number(me) : me;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      throw new MessageError(`message expiry interval must be a whole number of seconds 0..4294967295 (got ${describeValue(me)})`);
    }
    if (n > 0) properties.messageExpiryInterval = n;
  }

  const pf = cfg.payloadFormat === undefined || cfg.payloadFormat === '' ? msg.payloadFormatIndicator : cfg.payloadFormat;
  if (parseBool(pf, 'payload format indicator')) {
    if (!validUtf8(payload)) {
      throw new MessageError('payload format indicator says UTF-8 text but the payload is not valid UTF-8 (0x99 payload format invalid)');
    }
    properties.payloadFormatIndicator = true;
  }

  return { topic: topic as string, payload, qos, retain, ...(Object.keys(properties).length ? { properties } : {}) };
}
