/**
 * Contract test: what ThingsBoard stores for every formatter output (modelled by ./tb-checker,
 * from ThingsBoard's source) must be what the input meant — the right type, the exact value, the
 * right timestamp, no value lost or repeated, no packet over the limit.
 */
import assert from 'node:assert/strict';
import { formatTelemetry, optionsFromConfig, type TbFormatOptions, type TbMode } from '../../src/thingsboard';
import { tbStore, TbRejected, packetSize, type TbRow, type TbType } from './tb-checker';
import { seededRandom } from '../helpers/env';

const T = 'v1/devices/me/telemetry';

function stored(payload: string, topic = T, typeCast = true): TbRow[] {
  return tbStore(topic, payload, { typeCast }).rows;
}
function typeOf(payload: string, typeCast = true): [TbType, string] {
  const rows = stored(payload, T, typeCast);
  assert.equal(rows.length, 1, payload);
  return [rows[0]!.type, rows[0]!.value];
}

describe('thingsboard contract: the checker models ThingsBoard', () => {
  it('numbers: the text decides LONG / DOUBLE / STRING (rule 4)', () => {
    assert.deepEqual(typeOf('{"a":42}'), ['LONG', '42']);
    assert.deepEqual(typeOf('{"a":42.0}'), ['DOUBLE', '42']);
    assert.deepEqual(typeOf('{"a":42.5}'), ['DOUBLE', '42.5']);
    assert.deepEqual(typeOf('{"a":1E+1}'), ['LONG', '10']);
    assert.deepEqual(typeOf('{"a":1.5e2}'), ['LONG', '150']);
    assert.deepEqual(typeOf('{"a":101E-1}'), ['DOUBLE', '10.1']);
    assert.deepEqual(typeOf('{"a":1e+21}'), ['STRING', '1000000000000000000000']);
    assert.deepEqual(typeOf('{"a":9223372036854775807}'), ['LONG', '9223372036854775807']);
    assert.deepEqual(typeOf('{"a":9223372036854775808}'), ['STRING', '9223372036854775808']);
    assert.deepEqual(typeOf('{"a":0.1234567890123456}'), ['DOUBLE', '0.1234567890123456']);
    assert.deepEqual(typeOf('{"a":0.12345678901234567}'), ['STRING', '0.12345678901234567']);
    assert.deepEqual(typeOf('{"a":1e-17}'), ['STRING', '0.00000000000000001']);
    assert.throws(() => stored('{"a":9223372036854775808}', T, false), /Big integer/);
  });
  it('strings that parse as plain numbers are cast unless JSON_TYPE_CAST_ENABLED=false (rule 5)', () => {
    assert.deepEqual(typeOf('{"a":"42"}'), ['LONG', '42']);
    assert.deepEqual(typeOf('{"a":"42.0"}'), ['DOUBLE', '42']);
    assert.deepEqual(typeOf('{"a":".5"}'), ['DOUBLE', '0.5']);
    assert.deepEqual(typeOf('{"a":"007"}'), ['LONG', '7']);
    assert.deepEqual(typeOf('{"a":"99999999999999999999"}'), ['STRING', '99999999999999999999']);
    for (const s of ['5.', '1e3', '+5', ' 42', 'true', 'NaN']) assert.deepEqual(typeOf(`{"a":${JSON.stringify(s)}}`), ['STRING', s]);
    assert.deepEqual(typeOf('{"a":"42"}', false), ['STRING', '42']);
  });
  it('booleans, JSON values, nulls (rule 3)', () => {
    assert.deepEqual(typeOf('{"a":true}'), ['BOOLEAN', 'true']);
    assert.deepEqual(typeOf('{"a":{"b":[1, 2.50]}}'), ['JSON', '{"b":[1,2.50]}']);
    const r = tbStore(T, '{"a":null,"b":1,"c":{"d":null}}');
    assert.deepEqual(r.rows.map((x) => x.key), ['b', 'c']);
    assert.equal(r.problems.length, 2);
  });
  it('{ts, values} recognition, ts as a 64-bit long (rule 2)', () => {
    assert.deepEqual(stored('{"ts":1000,"values":{"a":1}}'), [{ ts: 1000n, key: 'a', type: 'LONG', value: '1' }]);
    assert.deepEqual(stored('{"ts":"1000","values":{"a":1}}')[0]?.ts, 1000n);
    assert.deepEqual(stored('{"ts":1000.9,"values":{"a":1}}')[0]?.ts, 1000n);
    assert.deepEqual(stored('{"ts":18446744073709551617,"values":{"a":1}}')[0]?.ts, 1n); // wraps
    assert.deepEqual(stored('{"ts":1000}'), [{ ts: 'server', key: 'ts', type: 'LONG', value: '1000' }]);
    assert.deepEqual(stored('{"ts":1,"values":{"a":1},"x":2}').map((r) => r.key), ['a']);
  });
  it('what it rejects (rules 1, 2)', () => {
    for (const bad of ['42', '"x"', '[1]', '[{"a":1},2]', '{"ts":1,"values":3}', '{"ts":{},"values":{}}', '{a:1}', 'NaN']) {
      assert.throws(() => tbStore(T, bad), TbRejected, bad);
    }
    assert.throws(() => tbStore('v1/devices/me/attributes', '[{"a":1}]'), TbRejected);
    assert.throws(() => tbStore('v1/gateway/telemetry', '{"D":{"a":1}}'), TbRejected);
  });
  it('keys ThingsBoard cannot save (rule 6) are reported', () => {
    assert.equal(tbStore(T, '{"":1}').problems.length, 1);
    assert.equal(tbStore(T, `{"${'k'.repeat(256)}":1}`).problems.length, 1);
  });
});

// ------------------------------------------------------------------------ generated inputs (seededRandom, so failures reproduce from the seed)

interface Expect { ts: bigint | 'server'; key: string; type: TbType; value: string }

const LETTERS = 'abcdefghijklmnopqrstuvwxyzäöü€ _-/';

function makeGen(seed: number) {
  const r = seededRandom(seed);
  const int = (n: number): number => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const word = (min = 1, max = 12): string => {
    let s = '';
    const n = min + int(max - min + 1);
    for (let i = 0; i < n; i++) s += LETTERS[int(LETTERS.length)];
    return /[a-z]/.test(s) ? s : `${s}x`; // never numeric-looking
  };
  const value = (depth = 0): unknown => {
    switch (int(16)) {
      case 0: return int(2000001) - 1000000;
      case 1: return (r() - 0.5) * 10 ** (int(40) - 20);
      case 2: return Math.round((r() - 0.5) * 1e6) / 100;
      case 3: return r() < 0.5;
      case 4: return word(0, 30);
      case 5: return BigInt(int(1e9)) * BigInt(int(1e9)) * BigInt(int(1e9)) * (r() < 0.5 ? -1n : 1n); // up to ~1e27
      case 6: return (r() < 0.5 ? -1 : 1) * 2 ** (53 + int(20)) * (1 + int(1000)); // unsafe integers
      case 7: return pick([null, undefined, NaN, Infinity, -Infinity]);
      case 8: return String(int(100000)); // numeric-looking string
      case 9: return `${int(1000)}.${int(1000)}`;
      case 10: return new Date(int(2e12));
      case 11: return 1e21 * (1 + int(100));
      case 12: return depth < 2 ? { [word()]: value(depth + 1), [word()]: value(depth + 1) } : 1;
      case 13: return depth < 2 ? [value(depth + 1), value(depth + 1)] : 'leaf';
      case 14: return word(200, 400);
      default: return Number.MAX_SAFE_INTEGER - int(10);
    }
  };
  return { r, int, pick, word, value };
}

function isInvalid(v: unknown): boolean {
  return v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v));
}

/** The JSON meaning of a nested value, with invalid members removed (the intent in 'drop' mode). */
function cleanJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.filter((e) => !isInvalid(e)).map(cleanJson);
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, e]) => !isInvalid(e)).map(([k, e]) => [k, cleanJson(e)]));
  }
  return v;
}

/** What the input means, written independently of the formatter. */
function intent(key: string, v: unknown, ts: bigint | 'server', o: TbFormatOptions, typeCast: boolean, out: Expect[]): void {
  if (isInvalid(v)) return;
  const decimal = o.decimal === 'all' || (o.decimal === 'keys' && o.decimalKeys.includes(key));
  if (typeof v === 'boolean') out.push({ ts, key, type: 'BOOLEAN', value: String(v) });
  else if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && !decimal) out.push({ ts, key, type: 'LONG', value: String(Object.is(v, -0) ? 0 : v) });
    else out.push({ ts, key, type: 'DOUBLE', value: String(v) });
  } else if (typeof v === 'bigint') {
    const inRange = v >= -(2n ** 63n) && v < 2n ** 63n;
    if (inRange && decimal) out.push({ ts, key, type: 'DOUBLE', value: String(Number(v)) });
    else out.push({ ts, key, type: inRange ? 'LONG' : 'STRING', value: v.toString() });
  } else if (typeof v === 'string') {
    if (typeCast && /^-?\d*\.?\d+$/.test(v) && v.length < 16) {
      out.push({ ts, key, type: v.includes('.') ? 'DOUBLE' : 'LONG', value: String(Number(v)) });
    } else out.push({ ts, key, type: 'STRING', value: v });
  } else if (v instanceof Date) out.push({ ts, key, type: 'STRING', value: v.toISOString() });
  else if (o.nested === 'flatten' && v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) {
    for (const [k, e] of Object.entries(v)) intent(`${key}.${k}`, e, ts, o, typeCast, out);
  } else out.push({ ts, key, type: 'JSON', value: JSON.stringify(cleanJson(v)) });
}

function same(actual: TbRow, exp: Expect): boolean {
  if (actual.key !== exp.key || actual.type !== exp.type || actual.ts !== exp.ts) return false;
  if (actual.type === 'DOUBLE') {
    const a = Number(actual.value); const e = Number(exp.value);
    // at most 16 fraction digits: values below 1e-16 round (the formatter warns)
    return a === e || Math.abs(a - e) <= Math.max(Math.abs(e) * 1e-15, 5e-17);
  }
  if (actual.type === 'JSON') return JSON.stringify(JSON.parse(actual.value)) === JSON.stringify(JSON.parse(exp.value));
  return actual.value === exp.value;
}

describe('thingsboard contract: every formatter output is stored as intended', () => {
  const MODES: TbMode[] = ['telemetry', 'attributes', 'gateway-telemetry', 'gateway-attributes'];
  const CASES = 600;

  it(`${CASES} generated messages across modes, options, shapes and packet limits`, function () {
    this.timeout(60000);
    let publishes = 0; let splits = 0; let checkedRows = 0; let refused = 0;
    for (let c = 0; c < CASES; c++) {
      const g = makeGen(1000 + c);
      const mode = MODES[c % 4] as TbMode;
      const keepStrings = g.r() < 0.2;
      const typeCast = !keepStrings; // 'keep' is for servers with JSON_TYPE_CAST_ENABLED=false
      const config: Record<string, unknown> = {
        mode,
        nested: g.pick(['json', 'flatten']),
        decimal: g.pick(['none', 'all', 'none']),
        numericStrings: keepStrings ? 'keep' : 'cast',
        maxPacketSize: g.pick([256, 700, 4096, 65536]),
        device: `dev-${g.int(5)}`,
        deviceType: g.pick(['', 'sensor']),
        timestampUnit: 'ms',
      };
      const o = optionsFromConfig(config);
      const now = 1_700_000_000_000 + g.int(1e6);
      const attributes = mode === 'attributes' || mode === 'gateway-attributes';
      const gateway = mode.startsWith('gateway');

      // shape: an object, a {ts, values} group, or an array of groups with distinct timestamps
      const groups: { ts: number | null; values: Record<string, unknown> }[] = [];
      const nGroups = attributes ? 1 : 1 + g.int(3);
      const usedKeys = new Set<string>();
      for (let i = 0; i < nGroups; i++) {
        const values: Record<string, unknown> = {};
        const n = 1 + g.int(12);
        for (let k = 0; k < n; k++) {
          let key = g.word(1, 10);
          while (usedKeys.has(key) || key === 'ts' || key === 'values') key += 'z';
          usedKeys.add(key); // unique keys also keep flattened names apart
          values[key] = g.value();
        }
        const ts = g.r() < 0.5 || gateway ? 1_600_000_000_000 + i * 1000 + g.int(999) : null;
        groups.push({ ts: i > 0 && ts === null ? 1_600_000_000_000 + i * 1000 : ts, values });
      }
      const payload = groups.length === 1 && groups[0]!.ts === null ? groups[0]!.values
        : groups.map((gr) => (gr.ts === null ? gr.values : { ts: gr.ts, values: gr.values }));

      const expected: Expect[] = [];
      for (const gr of groups) {
        const ts: bigint | 'server' = attributes ? 'server' : gr.ts !== null ? BigInt(gr.ts) : gateway ? BigInt(now) : 'server';
        for (const [k, v] of Object.entries(gr.values)) intent(k, v, ts, o, typeCast, expected);
      }

      const res = formatTelemetry({ payload, device: undefined }, o, { now: () => now });
      const ctx = `case ${c} (${JSON.stringify(config)})`;
      if (!res.ok) {
        // the only acceptable refusals: one value too large for the packet, or nothing valid left
        assert.ok(['TOO_LARGE', 'NOTHING_TO_SEND'].includes(res.error.code), `${ctx}: ${res.error.message}`);
        if (res.error.code === 'NOTHING_TO_SEND') assert.equal(expected.length, 0, ctx);
        refused++;
        continue;
      }
      const rows: TbRow[] = [];
      let dataPublishes = 0;
      res.publishes.forEach((p, i) => {
        publishes++;
        assert.ok(packetSize(p.topic, p.payload) <= o.maxPacketSize, `${ctx}: packet of ${packetSize(p.topic, p.payload)} bytes`);
        const s = tbStore(p.topic, p.payload, { typeCast });
        assert.deepEqual(s.problems, [], `${ctx}: ${p.payload}`);
        if (s.kind === 'connect') {
          assert.equal(i, 0, `${ctx}: connect comes first`);
          assert.equal(s.device, o.device);
          assert.equal(s.deviceType, o.deviceType || 'default');
          return;
        }
        dataPublishes++;
        if (gateway) assert.equal(s.device, o.device, ctx);
        rows.push(...s.rows);
      });
      if (dataPublishes > 1) splits++;
      assert.equal(gateway && res.publishes[0]?.kind === 'connect', gateway, `${ctx}: gateway connect emitted`);
      // same multiset: nothing lost, nothing repeated, every type and value as meant
      assert.equal(rows.length, expected.length, `${ctx}: ${rows.length} stored vs ${expected.length} meant`);
      const left = [...expected];
      for (const row of rows) {
        const i = left.findIndex((e) => same(row, e));
        assert.ok(i >= 0, `${ctx}: stored ${JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))} was not meant; meant: ${JSON.stringify(left.filter((e) => e.key === row.key), (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
        left.splice(i, 1);
        checkedRows++;
      }
    }
    assert.ok(refused < CASES / 4, `most cases produce output (${refused} refused)`);
    assert.ok(publishes > CASES, 'publishes produced');
    assert.ok(splits > 20, `splitting exercised (${splits})`);
    assert.ok(checkedRows > 3000, `rows checked (${checkedRows})`);
    console.log(`      ${CASES} cases: ${publishes} publishes, ${splits} split, ${refused} refused, ${checkedRows} values checked`);
  });
});
