/**
 * Number text that ThingsBoard stores as intended.
 *
 * ThingsBoard decides LONG vs DOUBLE from the JSON text of a number (JsonConverter
 * `buildNumericKeyValueProto`, 4.x): `new BigDecimal(text)`; integral after stripping trailing
 * zeros and not a plain decimal with a '.' → LONG (out of the signed 64-bit range → STRING);
 * otherwise DOUBLE when the scale (digits after the point) is at most 16, else STRING.
 * Older servers (3.x) took "contains '.'" → DOUBLE, else `Long.parseLong` (an exponent or a big
 * integer rejects the whole message). So this module never writes an exponent:
 *   - integers: plain digits inside the signed 64-bit range → LONG everywhere;
 *   - doubles: plain decimal with a '.' and 1..16 fraction digits → DOUBLE everywhere.
 */

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
/** Most fraction digits ThingsBoard accepts for a DOUBLE (bd.scale() <= 16). */
export const TB_MAX_FRACTION_DIGITS = 16;

export interface NumberText {
  /** JSON text to write (a number literal, or a JSON string literal for an out-of-range BigInt). */
  text: string;
  /** What ThingsBoard stores it as. */
  type: 'LONG' | 'DOUBLE' | 'STRING';
  /** Set when the written value differs from the input or may already have lost digits. */
  warning?: string;
}

/** Expands `1.5e-7` / `1e+21` to plain decimal notation (`0.00000015`, `1000000000000000000000`). */
export function toPlainDecimal(s: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?[eE]([+-]?\d+)$/.exec(s);
  if (!m) return s;
  const sign = m[1] ?? '';
  const intPart = m[2] ?? '0';
  const fracPart = m[3] ?? '';
  const exp = Number(m[4]);
  const digits = intPart + fracPart;
  const point = intPart.length + exp; // position of the decimal point within `digits`
  let out: string;
  if (point <= 0) {
    out = '0.' + '0'.repeat(-point) + digits;
  } else if (point >= digits.length) {
    out = digits + '0'.repeat(point - digits.length);
  } else {
    out = digits.slice(0, point) + '.' + digits.slice(point);
  }
  // normalise: strip leading zeros of the integer part, trailing zeros of the fraction
  let [ip, fp] = out.split('.') as [string, string | undefined];
  ip = ip.replace(/^0+(?=\d)/, '');
  if (fp !== undefined) {
    fp = fp.replace(/0+$/, '');
    out = fp.length ? `${ip}.${fp}` : ip;
  } else {
    out = ip;
  }
  return sign && out !== '0' ? sign + out : out;
}

/** Shortest round-trip digits of an integral JS number, without exponent (`1e21` → `1000000000000000000000`). */
function integerDigits(n: number): string {
  return toPlainDecimal(String(n));
}

/**
 * The JSON text for a finite JS number.
 * @param asDecimal write integral values with `.0` so ThingsBoard stores a DOUBLE
 */
export function formatNumber(n: number, asDecimal: boolean): NumberText {
  if (!Number.isFinite(n)) throw new RangeError(`not a finite number: ${n}`);
  if (Object.is(n, -0)) n = 0;
  if (Number.isInteger(n)) {
    if (Number.isSafeInteger(n)) {
      return asDecimal ? { text: `${n}.0`, type: 'DOUBLE' } : { text: String(n), type: 'LONG' };
    }
    // Beyond 2^53 a JS number is a double whose integer digits may already be wrong; write it as
    // the double it is (plain digits + ".0": DOUBLE, never an exponent, never a 64-bit overflow).
    // Warn only in the range where an exact 64-bit integer (an id, a counter) was likely meant.
    const text = `${integerDigits(n)}.0`;
    if (Math.abs(n) >= 2 ** 63) return { text, type: 'DOUBLE' };
    return {
      text,
      type: 'DOUBLE',
      warning: `${String(n)} is beyond 2^53 (9007199254740991): a JavaScript number keeps only ~16 significant digits, so it is sent as a DOUBLE; send a BigInt or a string for exact integers`,
    };
  }
  // non-integral: |n| < 2^52, so toFixed is exact-rounding and never uses an exponent
  let text = toPlainDecimal(String(n));
  const frac = text.split('.')[1] ?? '';
  let warning: string | undefined;
  if (frac.length > TB_MAX_FRACTION_DIGITS) {
    text = n.toFixed(TB_MAX_FRACTION_DIGITS).replace(/0+$/, '');
    if (text.endsWith('.')) text += '0';
    if (text === '-0.0') text = '0.0';
    const back = Number(text);
    const rel = Math.abs(back - n) / Math.abs(n);
    if (rel > 1e-9) {
      warning = `${String(n)} has more than ${TB_MAX_FRACTION_DIGITS} digits after the point (ThingsBoard would store it as a STRING); sent rounded as ${text}`;
    }
  }
  if (!text.includes('.')) text += '.0';
  return warning ? { text, type: 'DOUBLE', warning } : { text, type: 'DOUBLE' };
}

/** The JSON text for a BigInt: exact digits inside int64 (LONG), else a JSON string (STRING, digits kept). */
export function formatBigInt(b: bigint, asDecimal: boolean): NumberText {
  if (b >= INT64_MIN && b <= INT64_MAX) {
    return asDecimal ? { text: `${b.toString()}.0`, type: 'DOUBLE' } : { text: b.toString(), type: 'LONG' };
  }
  return {
    text: JSON.stringify(b.toString()),
    type: 'STRING',
    warning: `${b.toString()} is outside the signed 64-bit range ThingsBoard stores as LONG: sent as a string with every digit`,
  };
}

/**
 * True when ThingsBoard (with its default JSON_TYPE_CAST_ENABLED=true) casts this string to a
 * number: Apache commons-lang3 `NumberUtils.isParsable` — optional leading '-', digits (any
 * Unicode decimal digit, as Java's Character.isDigit), at most one '.', not ending with '.'.
 */
export function isTbNumericString(s: string): boolean {
  if (s.length === 0) return false;
  if (s.endsWith('.')) return false;
  let body = s;
  if (s.startsWith('-')) {
    if (s.length === 1) return false;
    body = s.slice(1);
  }
  let points = 0;
  for (const ch of body) {
    if (ch === '.') {
      points++;
      if (points > 1) return false;
    } else if (!/^\p{Nd}$/u.test(ch)) {
      return false;
    }
  }
  return true;
}
