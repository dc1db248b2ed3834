/**
 * Human-readable texts for MQTT reason codes (MQTT 5 section 2.4) and MQTT 3.1.1 CONNACK return
 * codes, and a describer that turns any connection error (network, DNS, TLS, MQTT) into the short
 * reason the nodes show in their status.
 */

const V5: Record<number, string> = {
  0x00: 'success',
  0x04: 'disconnect with will message',
  0x10: 'no matching subscribers',
  0x11: 'no subscription existed',
  0x80: 'unspecified error',
  0x81: 'malformed packet',
  0x82: 'protocol error',
  0x83: 'implementation specific error',
  0x84: 'unsupported protocol version',
  0x85: 'client identifier not valid',
  0x86: 'bad user name or password',
  0x87: 'not authorized',
  0x88: 'server unavailable',
  0x89: 'server busy',
  0x8a: 'banned',
  0x8b: 'server shutting down',
  0x8c: 'bad authentication method',
  0x8d: 'keep alive timeout',
  0x8e: 'session taken over',
  0x8f: 'topic filter invalid',
  0x90: 'topic name invalid',
  0x91: 'packet identifier in use',
  0x92: 'packet identifier not found',
  0x93: 'receive maximum exceeded',
  0x94: 'topic alias invalid',
  0x95: 'packet too large',
  0x96: 'message rate too high',
  0x97: 'quota exceeded',
  0x98: 'administrative action',
  0x99: 'payload format invalid',
  0x9a: 'retain not supported',
  0x9b: 'QoS not supported',
  0x9c: 'use another server',
  0x9d: 'server moved',
  0x9e: 'shared subscriptions not supported',
  0x9f: 'connection rate exceeded',
  0xa0: 'maximum connect time',
  0xa1: 'subscription identifiers not supported',
  0xa2: 'wildcard subscriptions not supported',
};

/** MQTT 3.1.1 CONNACK return codes 1-5 (no overlap with MQTT 5 failure codes, which are >= 0x80). */
const V3: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};

export function hex(code: number): string {
  return '0x' + code.toString(16).padStart(2, '0');
}

/** "0x87 not authorized"; `v3Connack`: an MQTT 3.1.1 CONNACK return code (1-5 mean something else there). */
export function reasonText(code: number, v3Connack = false): string {
  const t = (v3Connack ? V3[code] : undefined) ?? V5[code] ?? V3[code] ?? 'unknown reason';
  return `${hex(code)} ${t}`;
}

export function isFailure(code: number | undefined): boolean {
  return typeof code === 'number' && code >= 0x80;
}

/** An error that carries an MQTT reason code. */
export class ReasonCodeError extends Error {
  readonly reasonCode: number;
  constructor(message: string, reasonCode: number) {
    super(message);
    this.name = 'ReasonCodeError';
    this.reasonCode = reasonCode;
  }
}

const NET: Record<string, string> = {
  ENOTFOUND: 'DNS lookup failed',
  EAI_AGAIN: 'DNS lookup failed (temporary)',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the broker',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed by the broker',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS: self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS: self-signed certificate in chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS: unable to verify the certificate',
  CERT_HAS_EXPIRED: 'TLS: certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS: host name does not match the certificate',
};

/** Short reason for a connection-level error, e.g. "0x86 bad user name or password" or "DNS lookup failed (ENOTFOUND broker.invalid)". */
export function describeError(err: unknown, v3Connack = false): string {
  if (!err) return 'unknown error';
  const e = err as { code?: unknown; message?: string; hostname?: string; reasonCode?: number };
  if (typeof e.reasonCode === 'number') return reasonText(e.reasonCode, v3Connack);
  if (typeof e.code === 'number') return reasonText(e.code, v3Connack);
  if (typeof e.code === 'string') {
    const base = NET[e.code];
    if (base) return `${base} (${e.code}${e.hostname ? ' ' + e.hostname : ''})`;
    return `${e.message ?? 'error'} (${e.code})`;
  }
  if (/connack timeout/i.test(e.message ?? '')) return 'no CONNACK from the broker (timeout)';
  return e.message ?? String(err);
}
