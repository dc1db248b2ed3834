/** Pure helpers behind the mqtt5 nodes: topics, payload/user-property conversion, msg → PUBLISH, config. */
import { strict as assert } from 'node:assert';
import { createController, messageConfig } from '../../src/nodes/shared/client-config';
import { ExternalConnection } from '../../src/nodes/shared/external-connection';
import {
  decodePayload,
  encodePayload,
  entriesToUserProperties,
  MessageError,
  mergeUserProperties,
  normalizeUserProperties,
} from '../../src/nodes/shared/messages';
import { buildPublish } from '../../src/nodes/shared/publish-builder';
import { describeError, reasonText } from '../../src/nodes/shared/reason-codes';
import {
  fullFilter,
  stripShare,
  topicMatches,
  validatePublishTopic,
  validateShareGroup,
  validateTopicFilter,
} from '../../src/nodes/shared/topics';

const evaluate = (v: string, t: string, _n: unknown, msg: Record<string, any>): unknown =>
  t === 'msg' ? msg[v] : t === 'num' ? Number(v) : t === 'env' ? process.env[v] : v;

describe('mqtt5 shared helpers', function () {
  it('validates publish topics, filters and share groups with precise messages', function () {
    assert.equal(validatePublishTopic('a/b'), null);
    assert.match(validatePublishTopic('a/+')!, /wildcard/);
    assert.match(validatePublishTopic('')!, /empty/);
    assert.match(validatePublishTopic(5)!, /must be a string \(got number\)/);
    assert.equal(validateTopicFilter('a/+/c/#'), null);
    assert.match(validateTopicFilter('a/#/c')!, /# must be a whole level and the last one/);
    assert.match(validateTopicFilter('a/b+')!, /\+ must be a whole level/);
    assert.match(validateTopicFilter('$share/g/a')!, /shared subscription group field/);
    assert.equal(validateShareGroup('workers'), null);
    assert.match(validateShareGroup('a/b')!, /must not contain/);
    assert.equal(fullFilter('a/#', 'g'), '$share/g/a/#');
    assert.equal(stripShare('$share/g/a/#'), 'a/#');
  });

  it('matches topics like a broker ($-topics not by leading wildcards)', function () {
    assert.ok(topicMatches('a/#', 'a'));
    assert.ok(topicMatches('a/#', 'a/b/c'));
    assert.ok(topicMatches('a/+/c', 'a/b/c'));
    assert.ok(!topicMatches('a/+/c', 'a/b/d'));
    assert.ok(!topicMatches('a/+', 'a/b/c'));
    assert.ok(!topicMatches('#', '$SYS/x'));
    assert.ok(topicMatches('$SYS/#', '$SYS/x'));
  });

  it('encodes payloads: Buffer as is, objects as JSON, null empty, undefined an error', function () {
    assert.deepEqual(encodePayload(Buffer.from([1, 2])), Buffer.from([1, 2]));
    assert.equal(encodePayload({ a: 1 }).toString(), '{"a":1}');
    assert.equal(encodePayload(12.5).toString(), '12.5');
    assert.equal(encodePayload(true).toString(), 'true');
    assert.equal(encodePayload(null).length, 0);
    assert.throws(() => encodePayload(undefined), MessageError);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    assert.throws(() => encodePayload(circular), /cannot be converted to JSON/);
  });

  it('decodes payloads by output format and content type', function () {
    const j = Buffer.from('{"a":1}');
    assert.deepEqual(decodePayload(j, 'auto'), { a: 1 });
    assert.equal(decodePayload(j, 'auto', { contentType: 'text/plain' }), '{"a":1}');
    assert.deepEqual(decodePayload(Buffer.from('5'), 'auto', { contentType: 'application/vnd.x+json' }), 5);
    assert.equal(decodePayload(Buffer.from('5'), 'auto'), '5');
    assert.ok(Buffer.isBuffer(decodePayload(Buffer.from('x'), 'auto', { contentType: 'image/png' })));
    assert.ok(Buffer.isBuffer(decodePayload(Buffer.from([0xff, 0xfe]), 'auto')));
    assert.equal(decodePayload(Buffer.from('hi'), 'base64'), 'aGk=');
    assert.throws(() => decodePayload(Buffer.from('{x'), 'json'), /not valid JSON/);
  });

  it('user properties: repeated keys become arrays; msg wins on merge; bad values are errors', function () {
    const node = entriesToUserProperties([{ key: 'a', value: '1' }, { key: 'a', value: '2' }, { key: 'b', value: 'x' }, { key: '', value: 'ignored' }]);
    assert.deepEqual(node, { a: ['1', '2'], b: 'x' });
    assert.deepEqual(mergeUserProperties(node, normalizeUserProperties({ b: 'msg', c: [1, true] })), { a: ['1', '2'], b: 'msg', c: ['1', 'true'] });
    assert.throws(() => normalizeUserProperties([1]), /must be an object/);
    assert.throws(() => normalizeUserProperties({ a: null }), /msg.userProperties.a must be a string/);
  });

  it('builds a PUBLISH from node settings and msg; reply mode answers msg.responseTopic', function () {
    const p = buildPublish(evaluate, {}, { topic: 't/1', qos: '1', retain: 'true', contentType: 'ct', contentTypeType: 'msg', messageExpiry: '30', messageExpiryType: 'num' }, {
      payload: 'x', ct: 'text/plain', userProperties: { k: 'v' },
    });
    assert.equal(p.topic, 't/1');
    assert.equal(p.qos, 1);
    assert.equal(p.retain, true);
    assert.equal(p.properties?.contentType, 'text/plain');
    assert.equal(p.properties?.messageExpiryInterval, 30);
    assert.deepEqual(p.properties?.userProperties, { k: 'v' });
    const r = buildPublish(evaluate, {}, { topic: '', qos: '', replyMode: true }, {
      topic: 'request/topic', responseTopic: 'reply/here', correlationData: Buffer.from('c'), payload: 1, qos: 2,
    });
    assert.equal(r.topic, 'reply/here');
    assert.equal(r.qos, 2);
    assert.equal(r.properties?.responseTopic, undefined);
    assert.equal(r.properties?.correlationData?.toString(), 'c');
    assert.throws(() => buildPublish(evaluate, {}, {}, { payload: 1, topic: 'a', retain: 'maybe' }), /msg.retain must be true or false/);
    assert.throws(
      () => buildPublish(evaluate, {}, { payloadFormat: 'true' }, { payload: Buffer.from([0xff]), topic: 'a' }),
      /not valid UTF-8 \(0x99 payload format invalid\)/,
    );
    assert.equal(buildPublish(evaluate, {}, { payloadFormat: '' }, { payload: 'ü', topic: 'a', payloadFormatIndicator: true }).properties?.payloadFormatIndicator, true);
  });

  it('client settings: URL checked, birth/close/will read from flat fields, reason texts', async function () {
    assert.throws(() => createController({ brokerType: 'external', broker: 'http://x' }, {}), /is not valid/);
    assert.throws(() => createController({ brokerType: 'embedded' }, {}), /no embedded broker selected/);
    assert.throws(() => createController({ broker: 'mqtt://h', keepAlive: 70000 }, {}), /keep alive must be a whole number 0..65535/);
    assert.throws(() => createController({ broker: 'mqtt://h', willTopic: 'a/#' }, {}), /will message: .*wildcard/);
    const cfg = { willTopic: 'w', willPayload: 'bye', willQos: '1', willRetain: true, willDelay: 5, willUserProps: [{ key: 'k', value: 'v' }] };
    assert.deepEqual(messageConfig(cfg, 'will'), {
      topic: 'w', payload: 'bye', qos: '1', retain: true, contentType: '', messageExpiry: undefined, userProps: [{ key: 'k', value: 'v' }], delay: 5,
    });
    assert.equal(messageConfig(cfg, 'birth'), undefined);
    const c = createController({ broker: 'mqtt://127.0.0.1:1', ...cfg }, { user: 'u', password: 'p' });
    assert.ok(c.connection instanceof ExternalConnection);
    await c.close();
    assert.equal(reasonText(0x87), '0x87 not authorized');
    assert.equal(reasonText(4, true), '0x04 bad user name or password');
    assert.equal(reasonText(4), '0x04 disconnect with will message');
    assert.match(describeError(Object.assign(new Error('x'), { code: 'ENOTFOUND', hostname: 'broker.invalid' })), /DNS lookup failed \(ENOTFOUND broker.invalid\)/);
  });
});
