/**
 * Types of the ThingsBoard telemetry formatter (`node-red-contrib-mqtt5-hub/thingsboard`).
 *
 * The formatter is a pure function: one Node-RED-like message in, the MQTT publishes a
 * ThingsBoard server accepts out (`{ topic, payload }[]`), or a typed error. It never imports
 * Node-RED; `src/nodes/thingsboard-telemetry/` is the thin glue around it.
 */

/** What to publish. */
export type TbMode = 'telemetry' | 'attributes' | 'gateway-telemetry' | 'gateway-attributes';
export const TB_MODES: readonly TbMode[] = ['telemetry', 'attributes', 'gateway-telemetry', 'gateway-attributes'];

/** How numeric timestamps are read: milliseconds, seconds, or seconds when below 1e11 ("auto"). */
export type TimestampUnit = 'ms' | 's' | 'auto';
/** Nested objects: one JSON value (ThingsBoard's JSON type) or flattened to `a.b` keys. */
export type NestedMode = 'json' | 'flatten';
/** `null`, `undefined`, `NaN`, `±Infinity`: dropped with a warning, or the whole message is an error. */
export type InvalidMode = 'drop' | 'error';
/**
 * Strings that ThingsBoard casts to a number (`"42"`, `"4.5"`): 'cast' sends them (stored as
 * LONG/DOUBLE, ThingsBoard's default), 'keep' sends them unchanged for a server that runs with
 * `JSON_TYPE_CAST_ENABLED=false` (the only way to keep them STRING), 'error' refuses them.
 */
export type NumericStringMode = 'cast' | 'keep' | 'error';

export interface TbFormatOptions {
  mode: TbMode;
  /** Key for a single value (number/string/boolean payload). */
  key: string;
  /** Gateway modes: the device name. */
  device: string;
  /** Gateway modes: the device profile sent in `v1/gateway/connect` ("default" when empty). */
  deviceType: string;
  /** Gateway telemetry/attributes: publish `v1/gateway/connect` the first time a device is seen. */
  gatewayConnect: boolean;
  timestampUnit: TimestampUnit;
  /** Write integer numbers as decimals (`42.0`, stored as DOUBLE): for every key, or those listed. */
  decimal: 'none' | 'all' | 'keys';
  decimalKeys: string[];
  nested: NestedMode;
  invalid: InvalidMode;
  numericStrings: NumericStringMode;
  /** Largest MQTT PUBLISH packet (fixed header included) any output may need. Default 65536. */
  maxPacketSize: number;
  /** Extra bytes kept free for MQTT 5 properties added downstream (beyond those on the message). */
  propertyReserve: number;
}

export const DEFAULT_OPTIONS: Readonly<TbFormatOptions> = Object.freeze({
  mode: 'telemetry',
  key: '',
  device: '',
  deviceType: '',
  gatewayConnect: true,
  timestampUnit: 'ms',
  decimal: 'none',
  decimalKeys: [],
  nested: 'json',
  invalid: 'drop',
  numericStrings: 'cast',
  maxPacketSize: 65536,
  propertyReserve: 0,
} as TbFormatOptions);

/** The parts of a Node-RED message the formatter reads. */
export interface TbInput {
  payload: unknown;
  /** Fallback key source: its last level names a single value. */
  topic?: unknown;
  /** `msg.key`: key of a single value when the options have none. */
  key?: unknown;
  /** `msg.device`: gateway device when the options have none. */
  device?: unknown;
  /** `msg.deviceType`: gateway device profile when the options have none. */
  deviceType?: unknown;
  /** `msg.timestamp`: timestamp for values without their own `ts`. */
  timestamp?: unknown;
  /**
   * The message itself, to count the MQTT 5 properties an `mqtt out` node takes from it
   * (responseTopic, correlationData, contentType, messageExpiryInterval, userProperties,
   * topicAlias, payloadFormatIndicator). Optional.
   */
  mqttProperties?: Record<string, unknown>;
}

export interface TbFormatContext {
  /** Gateway devices already announced with `v1/gateway/connect`. */
  knownDevices?: ReadonlySet<string>;
  /** Clock for gateway telemetry without a timestamp (tests inject it). */
  now?: () => number;
}

export type TbPublishKind = 'telemetry' | 'attributes' | 'connect';

export interface TbPublish {
  topic: string;
  /** The exact JSON text to publish. */
  payload: string;
  kind: TbPublishKind;
  /** Gateway modes: the device. */
  device?: string;
  /** Number of key/value entries in this publish (0 for connect). */
  values: number;
}

export type TbErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_INPUT'
  | 'NO_KEY'
  | 'INVALID_KEY'
  | 'DUPLICATE_KEY'
  | 'INVALID_VALUE'
  | 'NUMERIC_STRING'
  | 'INVALID_TIMESTAMP'
  | 'NO_DEVICE'
  | 'TOO_LARGE'
  | 'NOTHING_TO_SEND';

export class TbFormatError extends Error {
  readonly code: TbErrorCode;
  constructor(code: TbErrorCode, message: string) {
    super(message);
    this.name = 'TbFormatError';
    this.code = code;
  }
}

export interface TbFormatSuccess {
  ok: true;
  publishes: TbPublish[];
  /** Human-readable warnings (dropped values, rounding, precision). */
  warnings: string[];
  /** Key/value entries published. */
  values: number;
  /** Entries dropped (invalid values in 'drop' mode). */
  dropped: number;
  /** Gateway modes: the device the publishes are for. */
  device?: string;
}

export interface TbFormatFailure {
  ok: false;
  error: TbFormatError;
  warnings: string[];
}

export type TbFormatResult = TbFormatSuccess | TbFormatFailure;

/** ThingsBoard topics. */
export const TB_TOPICS = Object.freeze({
  telemetry: 'v1/devices/me/telemetry',
  attributes: 'v1/devices/me/attributes',
  gatewayTelemetry: 'v1/gateway/telemetry',
  gatewayAttributes: 'v1/gateway/attributes',
  gatewayConnect: 'v1/gateway/connect',
});

/** ThingsBoard saves no key that is empty or longer than this (characters). */
export const TB_MAX_KEY_LENGTH = 255;
/** ThingsBoard device names are limited to 255 characters too. */
export const TB_MAX_DEVICE_NAME_LENGTH = 255;
