/**
 * Unit tests of the pure ThingsBoard formatter: exact output text for every rule.
 */
import assert from 'node:assert/strict';
import {
  formatTelemetry, optionsFromConfig, mergeOptions, payloadBudget, publishPacketSize, mqtt5PropertyBytes,
  formatNumber, toPlainDecimal, isTbNumericString, toMillis, TbFormatError,
  type TbFormatOptions, type TbInput, type TbFormatContext, type TbFormatSuccess, type TbErrorCode,
} from '../../src/thingsboard';

const T = 'v1/devices/me/telemetry';
const A = 'v1/devices/me/attributes';
const GT = 'v1/gateway/telemetry';
const GA = 'v1/gateway/attributes';
const GC = 'v1/gateway/connect';

function opts(c: Record<string, unknown> = {}): TbFormatOptions {
  return optionsFromConfig(c);
}

function ok(input: TbInput, c: Record<string, unknown> = {}, ctx: TbFormatContext = {}): TbFormatSuccess {
  const r = formatTelemetry(input, opts(c), ctx);
  if (!r.ok) assert.fail(`expected success, got ${r.error.code}: ${r.error.message}`);
  return r;
}

/** [topic, payload] pairs */
function out(input: TbInput, c: Record<string, unknown> = {}, ctx: TbFormatContext = {}): [string, string][] {
  return ok(input, c, ctx).publishes.map((p) => [p.topic, p.payload]);
}

function fails(input: TbInput, code: TbErrorCode, re: RegExp, c: Record<string, unknown> = {}): void {
  const r = formatTelemetry(input, opts(c));
  if (r.ok) assert.fail(`expected ${code}, got ${JSON.stringify(r.publishes)}`);
  assert.equal(r.error.code, code, r.error.message);
  assert.match(r.error.message, re);
  assert.ok(r.error instanceof TbFormatError);
}

describe('thingsboard formatter', () => {
  describe('input shapes', () => {
    it('single number with key from the options', () => {
      assert.deepEqual(out({ payload: 21 }, { key: 'temp' }), [[T, '{"temp":21}']]);
    });
    it('single value key from msg.key when the options have none', () => {
      assert.deepEqual(out({ payload: 'on', key: 'state' }), [[T, '{"state":"on"}']]);
    });
    it('single value key from the last level of msg.topic', () => {
      assert.deepEqual(out({ payload: true, topic: 'site/room1/door_open' }), [[T, '{"door_open":true}']]);
    });
    it('options key wins over msg.key and msg.topic', () => {
      assert.deepEqual(out({ payload: 1, key: 'k2', topic: 'a/k3' }, { key: 'k1' }), [[T, '{"k1":1}']]);
    });
    it('single value without any key is an error', () => {
      fails({ payload: 5 }, 'NO_KEY', /needs a key/);
    });
    it('object of key → value keeps key order', () => {
      assert.deepEqual(out({ payload: { b: 1, a: 'x', c: false } }), [[T, '{"b":1,"a":"x","c":false}']]);
    });
    it('{ts, values} becomes a timestamped group', () => {
      assert.deepEqual(out({ payload: { ts: 1700000000000, values: { t: 20.5 } } }),
        [[T, '{"ts":1700000000000,"values":{"t":20.5}}']]);
    });
    it('an object with ts and other keys: ts is the timestamp', () => {
      assert.deepEqual(out({ payload: { ts: 1700000000000, t: 1, h: 2 } }),
        [[T, '{"ts":1700000000000,"values":{"t":1,"h":2}}']]);
    });
    it('{ts, values} with extra keys is refused (ThingsBoard would ignore them)', () => {
      fails({ payload: { ts: 1, values: { a: 1 }, b: 2 } }, 'INVALID_INPUT', /"b"/);
    });
    it('{ts, values} whose values is not an object is refused', () => {
      fails({ payload: { ts: 1, values: [1, 2] } }, 'INVALID_INPUT', /values must be an object/);
    });
    it('array of groups, objects and scalars; same timestamps merged, order kept', () => {
      assert.deepEqual(out({ payload: [
        { ts: 2000, values: { a: 1 } }, { ts: 1000, values: { b: 2 } }, { ts: 2000, values: { c: 3 } }, { d: 4 },
      ] }), [[T, '[{"ts":2000,"values":{"a":1,"c":3}},{"ts":1000,"values":{"b":2}},{"d":4}]']]);
    });
    it('array with a scalar uses the single-value key', () => {
      assert.deepEqual(out({ payload: [{ ts: 1000, values: { a: 1 } }, 7], key: 'b', timestamp: 5000 }),
        [[T, '[{"ts":1000,"values":{"a":1}},{"ts":5000,"values":{"b":7}}]']]);
    });
    it('a string payload holding JSON is one string value, with a warning to parse it first', () => {
      const r = ok({ payload: '{"a":1}', key: 'raw' });
      assert.equal(r.publishes[0]?.payload, '{"raw":"{\\"a\\":1}"}');
      assert.match(r.warnings[0] ?? '', /json node/);
      assert.deepEqual(ok({ payload: '[not json', key: 'raw' }).warnings, []);
    });
    it('nested arrays and empty arrays are refused', () => {
      fails({ payload: [[1]] }, 'INVALID_INPUT', /an array/);
      fails({ payload: [] }, 'INVALID_INPUT', /empty array/);
    });
    it('Buffer, missing payload, empty object are refused', () => {
      fails({ payload: Buffer.from('{"a":1}') }, 'INVALID_INPUT', /Buffer/);
      fails({ payload: undefined }, 'INVALID_INPUT', /missing/);
      fails({ payload: {} }, 'INVALID_INPUT', /no values/);
    });
    it('a key given twice for one timestamp is refused; for different timestamps it is fine', () => {
      fails({ payload: [{ a: 1 }, { a: 2 }] }, 'DUPLICATE_KEY', /"a"/);
      assert.deepEqual(out({ payload: [{ ts: 1000, a: 1 }, { ts: 2000, a: 2 }] }),
        [[T, '[{"ts":1000,"values":{"a":1}},{"ts":2000,"values":{"a":2}}]']]);
    });
    it('keys "ts" and "values" without timestamp are written as separate objects', () => {
      // {"ts":..,"values":..} would be read as a timestamped group
      assert.deepEqual(out({ payload: [{ values: 5 }, 9], key: 'ts' }), [[T, '[{"values":5},{"ts":9}]']]);
    });
  });

  describe('numbers', () => {
    it('integer → plain digits (LONG), fraction → decimal (DOUBLE)', () => {
      assert.deepEqual(out({ payload: { i: 42, n: -7, f: 42.5, z: -0 } }), [[T, '{"i":42,"n":-7,"f":42.5,"z":0}']]);
    });
    it('"store numbers as decimal" for all keys writes 42.0', () => {
      assert.deepEqual(out({ payload: { a: 42, b: 1.5, c: 0 } }, { decimal: 'all' }), [[T, '{"a":42.0,"b":1.5,"c":0.0}']]);
    });
    it('"store numbers as decimal" for listed keys only', () => {
      assert.deepEqual(out({ payload: { a: 42, b: 42 } }, { decimal: 'keys', decimalKeys: 'b' }), [[T, '{"a":42,"b":42.0}']]);
    });
    it('decimal keys apply to flattened names', () => {
      assert.deepEqual(out({ payload: { s: { t: 20 } } }, { nested: 'flatten', decimal: 'keys', decimalKeys: ['s.t'] }),
        [[T, '{"s.t":20.0}']]);
    });
    it('never writes an exponent: small doubles in plain decimal', () => {
      assert.deepEqual(out({ payload: { a: 1.5e-7, b: 1e-7 } }), [[T, '{"a":0.00000015,"b":0.0000001}']]);
    });
    it('large doubles (1e21) are written as plain decimals with .0 (DOUBLE, not LONG/STRING)', () => {
      assert.deepEqual(out({ payload: { a: 1e21 } }), [[T, '{"a":1000000000000000000000.0}']]);
      assert.deepEqual(out({ payload: { a: -1.5e300 } }), [[T, `{"a":-15${'0'.repeat(299)}.0}`]]);
    });
    it('integers beyond 2^53 are sent as DOUBLE with a warning', () => {
      const r = ok({ payload: { a: 2 ** 60 } });
      assert.equal(r.publishes[0]?.payload, '{"a":1152921504606847000.0}');
      assert.match(r.warnings[0] ?? '', /beyond 2\^53/);
    });
    it('BigInt inside int64 → exact digits; beyond → string with every digit', () => {
      assert.deepEqual(out({ payload: { a: 9223372036854775807n, b: -9223372036854775808n, c: 9223372036854775808n } }),
        [[T, '{"a":9223372036854775807,"b":-9223372036854775808,"c":"9223372036854775808"}']]);
    });
    it('more than 16 fraction digits are rounded to 16 (ThingsBoard would store a STRING)', () => {
      assert.deepEqual(out({ payload: { a: 0.1 + 0.2, b: 1.234567890123456e-5 } }),
        [[T, '{"a":0.3,"b":0.0000123456789012}']]);
      const r = ok({ payload: { c: 1e-20 } });
      assert.equal(r.publishes[0]?.payload, '{"c":0.0}');
      assert.match(r.warnings[0] ?? '', /rounded/);
    });
    it('formatNumber / toPlainDecimal edge cases', () => {
      assert.equal(toPlainDecimal('1e+21'), '1000000000000000000000');
      assert.equal(toPlainDecimal('-1.25e-3'), '-0.00125');
      assert.equal(toPlainDecimal('1.5e2'), '150');
      assert.equal(formatNumber(Number.MAX_SAFE_INTEGER, false).text, '9007199254740991');
      assert.equal(formatNumber(-2.5, true).text, '-2.5');
      assert.throws(() => formatNumber(NaN, false), RangeError);
    });
  });

  describe('invalid values', () => {
    it('null/undefined/NaN/Infinity are dropped with a warning each', () => {
      const r = ok({ payload: { a: 1, b: null, c: undefined, d: NaN, e: Infinity, f: -Infinity } });
      assert.equal(r.publishes[0]?.payload, '{"a":1}');
      assert.equal(r.dropped, 5);
      assert.equal(r.warnings.length, 5);
      assert.match(r.warnings.join('\n'), /payload\.b is null[\s\S]*payload\.d is NaN[\s\S]*payload\.f is -Infinity/);
    });
    it('... or refused when the option says error', () => {
      fails({ payload: { a: 1, b: NaN } }, 'INVALID_VALUE', /msg\.payload\.b is NaN/, { invalid: 'error' });
    });
    it('inside nested JSON values too', () => {
      const r = ok({ payload: { j: { a: null, b: [1, NaN, 2], c: { d: undefined, e: 'x' } } } });
      assert.equal(r.publishes[0]?.payload, '{"j":{"b":[1,2],"c":{"e":"x"}}}');
      assert.equal(r.dropped, 3);
      fails({ payload: { j: { a: [Infinity] } } }, 'INVALID_VALUE', /j\.a\[0\] is Infinity/, { invalid: 'error' });
    });
    it('a payload with nothing valid left is an error naming the drops', () => {
      fails({ payload: { a: null } }, 'NOTHING_TO_SEND', /1 value/);
      fails({ payload: NaN, key: 'k' }, 'NOTHING_TO_SEND', /dropped/);
    });
    it('functions, symbols, Maps, circular structures are refused', () => {
      fails({ payload: { f: () => 1 } }, 'INVALID_VALUE', /function/);
      fails({ payload: { m: new Map() } }, 'INVALID_VALUE', /Map/);
      const c: Record<string, unknown> = { x: 1 };
      c.self = c;
      fails({ payload: { c } }, 'INVALID_VALUE', /circular/);
    });
  });

  describe('nested objects', () => {
    it('json (default): one JSON value, compact', () => {
      assert.deepEqual(out({ payload: { pos: { lat: 52.5, lon: 13.4, tags: ['a', 1] } } }),
        [[T, '{"pos":{"lat":52.5,"lon":13.4,"tags":["a",1]}}']]);
    });
    it('flatten: a.b keys; arrays and empty objects stay JSON values', () => {
      assert.deepEqual(out({ payload: { pos: { lat: 52.5, deep: { x: 1 } }, arr: [1, 2], e: {} } }, { nested: 'flatten' }),
        [[T, '{"pos.lat":52.5,"pos.deep.x":1,"arr":[1,2],"e":{}}']]);
    });
    it('flattening that produces a duplicate key is refused', () => {
      fails({ payload: { 'a.b': 1, a: { b: 2 } } }, 'DUPLICATE_KEY', /"a\.b"/, { nested: 'flatten' });
    });
    it('Dates become ISO strings, BigInts inside JSON keep digits', () => {
      assert.deepEqual(out({ payload: { d: new Date(0), j: { n: 123456789012345678901234567890n } } }),
        [[T, '{"d":"1970-01-01T00:00:00.000Z","j":{"n":123456789012345678901234567890}}']]);
    });
  });

  describe('timestamps', () => {
    it('msg.timestamp as ms, Date and ISO string', () => {
      assert.deepEqual(out({ payload: { a: 1 }, timestamp: 1700000000123 }), [[T, '{"ts":1700000000123,"values":{"a":1}}']]);
      assert.deepEqual(out({ payload: { a: 1 }, timestamp: new Date(1700000000123) }), [[T, '{"ts":1700000000123,"values":{"a":1}}']]);
      assert.deepEqual(out({ payload: { a: 1 }, timestamp: '2023-11-14T22:13:20.123Z' }), [[T, '{"ts":1700000000123,"values":{"a":1}}']]);
    });
    it('seconds: unit "s" multiplies, fractions rounded to integer ms', () => {
      assert.deepEqual(out({ payload: { ts: 1700000000.5, values: { a: 1 } } }, { timestampUnit: 's' }),
        [[T, '{"ts":1700000000500,"values":{"a":1}}']]);
    });
    it('auto-detect: below 1e11 is seconds, above is ms', () => {
      assert.deepEqual(out({ payload: [{ ts: 1700000000, a: 1 }, { ts: 1700000000001, b: 2 }] }, { timestampUnit: 'auto' }),
        [[T, '[{"ts":1700000000000,"values":{"a":1}},{"ts":1700000000001,"values":{"b":2}}]']]);
      // in ms mode a seconds value is taken as it is (1970), exactly what ThingsBoard would do
      assert.deepEqual(out({ payload: { ts: 1700000000, a: 1 } }), [[T, '{"ts":1700000000,"values":{"a":1}}']]);
    });
    it('auto-detect also reads microseconds and nanoseconds', () => {
      assert.deepEqual(out({ payload: [{ ts: 1700000000123456, a: 1 }, { ts: 1700000000123456789n, b: 2 }] }, { timestampUnit: 'auto' }),
        [[T, '{"ts":1700000000123,"values":{"a":1,"b":2}}']]);
    });
    it('in ms mode, a value that looks like seconds or microseconds is sent as asked, with a warning', () => {
      const r = ok({ payload: { a: 1 }, timestamp: 1700000000 });
      assert.equal(r.publishes[0]?.payload, '{"ts":1700000000,"values":{"a":1}}');
      assert.match(r.warnings[0] ?? '', /msg\.timestamp 1700000000 is read as milliseconds \(1970-01-20T16:13:20\.000Z\); if it is in seconds/);
      const u = ok({ payload: { ts: 1700000000123456, values: { a: 1 } } });
      assert.match(u.warnings[0] ?? '', /year 55840.*microseconds/);
      assert.deepEqual(ok({ payload: { a: 1 }, timestamp: 1700000000000 }).warnings, []);
    });
    it('fractional milliseconds are rounded; numeric strings accepted', () => {
      assert.deepEqual(out({ payload: { a: 1 }, timestamp: '1700000000000.6' }), [[T, '{"ts":1700000000001,"values":{"a":1}}']]);
    });
    it('invalid timestamps are refused with their source named', () => {
      fails({ payload: { a: 1 }, timestamp: 'yesterday' }, 'INVALID_TIMESTAMP', /msg\.timestamp "yesterday"/);
      fails({ payload: { ts: -5, values: { a: 1 } } }, 'INVALID_TIMESTAMP', /before 1970/);
      fails({ payload: { a: 1 }, timestamp: new Date(NaN) }, 'INVALID_TIMESTAMP', /invalid Date/);
      fails({ payload: { ts: 1e20, a: 1 } }, 'INVALID_TIMESTAMP', /275760/);
      assert.throws(() => toMillis({}, 'ms', 'x'), /must be a number/);
    });
  });

  describe('keys', () => {
    it('empty keys are refused', () => {
      fails({ payload: { '': 1 } }, 'INVALID_KEY', /empty key/);
    });
    it('keys over 255 characters are refused; 255 is fine (counted in characters)', () => {
      fails({ payload: { ['k'.repeat(256)]: 1 } }, 'INVALID_KEY', /256 characters/);
      const k255 = '€'.repeat(255);
      assert.deepEqual(out({ payload: { [k255]: 1 } }), [[T, `{"${k255}":1}`]]);
    });
  });

  describe('numeric-looking strings', () => {
    it('cast (default): sent unchanged', () => {
      assert.deepEqual(out({ payload: { a: '42', b: '4.5' } }), [[T, '{"a":"42","b":"4.5"}']]);
    });
    it('error: refused with a precise message', () => {
      fails({ payload: { a: 'x', b: '007' } }, 'NUMERIC_STRING', /msg\.payload\.b is the string "007"/, { numericStrings: 'error' });
      assert.deepEqual(out({ payload: { a: '5.', b: '1e3', c: '+5' } }, { numericStrings: 'error' }), [[T, '{"a":"5.","b":"1e3","c":"+5"}']]);
    });
    it('isTbNumericString follows NumberUtils.isParsable', () => {
      for (const s of ['42', '42.0', '.5', '007', '-1', '-.5', '٤٢']) assert.equal(isTbNumericString(s), true, s);
      for (const s of ['5.', '1e3', '+5', ' 42', 'true', '', '-', '1.2.3', 'NaN']) assert.equal(isTbNumericString(s), false, s);
    });
  });

  describe('modes', () => {
    it('device attributes: one flat object, timestamps ignored', () => {
      const r = ok({ payload: { ts: 1000, values: { fw: '1.2', n: 3 } } }, { mode: 'attributes' });
      assert.deepEqual(r.publishes.map((p) => [p.topic, p.payload]), [[A, '{"fw":"1.2","n":3}']]);
      assert.deepEqual(r.warnings, ['msg.payload.ts ignored: attributes have no timestamp']);
    });
    it('attributes with a repeated key are refused', () => {
      fails({ payload: [{ ts: 1000, a: 1 }, { ts: 2000, a: 2 }] }, 'DUPLICATE_KEY', /attribute keeps one value/, { mode: 'attributes' });
    });
    it('gateway telemetry: connect first, then {"dev":[{ts,values}]} (now when no ts)', () => {
      assert.deepEqual(out({ payload: { t: 1 } }, { mode: 'gateway-telemetry', device: 'Pump 1', deviceType: 'pump' }, { now: () => 1234 }), [
        [GC, '{"device":"Pump 1","type":"pump"}'],
        [GT, '{"Pump 1":[{"ts":1234,"values":{"t":1}}]}'],
      ]);
    });
    it('gateway: known devices get no connect; device from msg.device; type defaults to "default"', () => {
      assert.deepEqual(out({ payload: { t: 1 }, device: 'D', timestamp: 5 }, { mode: 'gateway-telemetry' }, { knownDevices: new Set(['D']) }),
        [[GT, '{"D":[{"ts":5,"values":{"t":1}}]}']]);
      assert.deepEqual(out({ payload: { t: 1 }, device: 'E', timestamp: 5 }, { mode: 'gateway-telemetry' })[0],
        [GC, '{"device":"E","type":"default"}']);
    });
    it('gateway attributes, connect switched off', () => {
      assert.deepEqual(out({ payload: { a: 'x' }, device: 'D' }, { mode: 'gateway-attributes', gatewayConnect: false }),
        [[GA, '{"D":{"a":"x"}}']]);
    });
    it('gateway without a device name is an error', () => {
      fails({ payload: { a: 1 } }, 'NO_DEVICE', /device name/, { mode: 'gateway-telemetry' });
      fails({ payload: { a: 1 }, device: 7 }, 'NO_DEVICE', /msg\.device must be a string/, { mode: 'gateway-telemetry' });
    });
  });

  describe('size limit and splitting', () => {
    it('payloadBudget arithmetic for the default 65,536-byte packet', () => {
      // RL ≤ 65536-1-3 = 65532; minus topic (2+23), packet id 2, property length 1
      assert.equal(payloadBudget(T, 65536, 0), 65504);
      assert.equal(publishPacketSize(T, 65504, 0), 65536);
      assert.equal(publishPacketSize(T, 65505, 0), 65537);
      // small packets: 1-byte remaining length
      assert.equal(payloadBudget(T, 129, 0), 129 - 2 - 25 - 2 - 1);
      assert.equal(publishPacketSize(T, payloadBudget(T, 300, 10), 10) <= 300, true);
      assert.equal(publishPacketSize(T, payloadBudget(T, 300, 10) + 1, 10) > 300, true);
    });
    it('MQTT 5 properties on the message are counted', () => {
      assert.equal(mqtt5PropertyBytes({ contentType: 'application/json', userProperties: { a: 'b', c: ['d', 'e'] }, messageExpiryInterval: 60 }),
        (1 + 2 + 16) + (1 + 2 + 1 + 2 + 1) * 3 + 5);
      const plain = ok({ payload: { a: 'x'.repeat(65480) } });
      assert.equal(plain.publishes.length, 1);
      const r = formatTelemetry({ payload: { a: 'x'.repeat(65480) }, mqttProperties: { contentType: 'application/json' } }, opts());
      assert.equal(r.ok, false);
    });
    it('user property values of any type are counted, never an exception (BigInt, circular)', () => {
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      assert.equal(mqtt5PropertyBytes({ userProperties: { n: 12345n } }), 1 + 2 + 1 + 2 + 5);
      assert.equal(mqtt5PropertyBytes({ userProperties: { c: circular } }), 1 + 2 + 1 + 2 + '[object Object]'.length);
      const r = formatTelemetry({ payload: { a: 1 }, mqttProperties: { userProperties: { n: 12345n } } }, opts());
      assert.equal(r.ok, true);
    });
    it('splits by key; every output fits; nothing lost or repeated; ts kept per group', () => {
      const values: Record<string, number> = {};
      for (let i = 0; i < 40; i++) values[`key${String(i).padStart(2, '0')}`] = i;
      const r = ok({ payload: { ts: 1000, values } }, { maxPacketSize: 256 });
      assert.ok(r.publishes.length > 1);
      const budget = payloadBudget(T, 256, 0);
      const seen: string[] = [];
      for (const p of r.publishes) {
        assert.ok(Buffer.byteLength(p.payload) <= budget);
        const o = JSON.parse(p.payload) as { ts: number; values: Record<string, number> };
        assert.equal(o.ts, 1000);
        seen.push(...Object.keys(o.values));
      }
      assert.deepEqual(seen, Object.keys(values));
      assert.equal(r.publishes.reduce((a, p) => a + p.values, 0), 40);
      assert.equal(r.publishes[0]?.payload.startsWith('{"ts":1000,"values":{"key00":0,"key01":1,'), true);
    });
    it('a split across timestamp groups', () => {
      const r = ok({ payload: [{ ts: 1, values: { a: 'x'.repeat(150) } }, { ts: 2, values: { b: 'y'.repeat(150) } }] }, { maxPacketSize: 256 });
      assert.deepEqual(r.publishes.map((p) => p.payload),
        [`{"ts":1,"values":{"a":"${'x'.repeat(150)}"}}`, `{"ts":2,"values":{"b":"${'y'.repeat(150)}"}}`]);
    });
    it('gateway outputs split with the envelope repeated', () => {
      const r = ok({ payload: { a: 'x'.repeat(150), b: 'y'.repeat(150) }, device: 'D', timestamp: 9 }, { mode: 'gateway-telemetry', gatewayConnect: false, maxPacketSize: 256 });
      assert.deepEqual(r.publishes.map((p) => p.payload),
        [`{"D":[{"ts":9,"values":{"a":"${'x'.repeat(150)}"}}]}`, `{"D":[{"ts":9,"values":{"b":"${'y'.repeat(150)}"}}]}`]);
    });
    it('a single value that cannot fit is an error', () => {
      fails({ payload: { big: 'x'.repeat(300) } }, 'TOO_LARGE', /"big" alone needs/, { maxPacketSize: 256 });
      fails({ payload: { big: 'x'.repeat(70000) } }, 'TOO_LARGE', /limit is 65504 bytes/);
    });
    it('propertyReserve lowers the budget', () => {
      const s = 'x'.repeat(65504 - 8); // {"a":"…"} = 8 bytes of envelope
      assert.equal(ok({ payload: { a: s } }).publishes.length, 1);
      fails({ payload: { a: s } }, 'TOO_LARGE', /65494/, { propertyReserve: 10 });
    });
  });

  describe('options', () => {
    it('invalid configuration values are precise errors', () => {
      assert.throws(() => optionsFromConfig({ mode: 'rpc' }), /mode must be one of/);
      assert.throws(() => optionsFromConfig({ maxPacketSize: '10' }), /maxPacketSize must be an integer from 256/);
      assert.throws(() => optionsFromConfig({ decimal: 'keys', decimalKeys: '' }), /lists no key/);
      assert.throws(() => mergeOptions(opts(), 'x', 'msg.thingsboard'), /msg\.thingsboard: must be an object/);
    });
    it('odd override values (BigInt, huge strings) are TbFormatErrors with a short quote, not TypeErrors', () => {
      const err = (raw: unknown): TbFormatError => {
        try {
          mergeOptions(opts(), raw, 'msg.thingsboard');
        } catch (e) {
          return e as TbFormatError;
        }
        throw new Error('no error');
      };
      const big = err({ maxPacketSize: 1000n });
      assert.equal(big.code, 'INVALID_OPTION');
      assert.match(big.message, /maxPacketSize must be an integer from 256 to \d+, not 1000n$/);
      assert.match(err({ mode: 5n }).message, /mode must be one of .*, not 5n$/);
      const huge = err({ mode: 'm'.repeat(100000) });
      assert.equal(huge.code, 'INVALID_OPTION');
      assert.ok(huge.message.length < 300, `short message (${huge.message.length} characters)`);
    });
    it('config strings from the editor are accepted', () => {
      const o = optionsFromConfig({ maxPacketSize: '1024', gatewayConnect: 'false', decimal: 'keys', decimalKeys: ' a, b ,' });
      assert.equal(o.maxPacketSize, 1024);
      assert.equal(o.gatewayConnect, false);
      assert.deepEqual(o.decimalKeys, ['a', 'b']);
      const blank = optionsFromConfig({ maxPacketSize: '', propertyReserve: '' });
      assert.equal(blank.maxPacketSize, 65536);
      assert.equal(blank.propertyReserve, 0);
    });
  });
});
