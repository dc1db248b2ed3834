/**
 * ThingsBoard telemetry formatter: pure functions, no Node-RED.
 *
 *   import { formatTelemetry, optionsFromConfig } from 'node-red-contrib-mqtt5-hub/thingsboard';
 *   const r = formatTelemetry({ payload: { temp: 21.5 } }, optionsFromConfig({ mode: 'telemetry' }));
 *   if (r.ok) for (const p of r.publishes) client.publish(p.topic, p.payload);
 */
export * from './types';
export { formatTelemetry } from './format';
export { mergeOptions, optionsFromConfig, parseKeyList, MIN_PACKET_SIZE, MAX_PACKET_SIZE } from './options';
export { formatNumber, formatBigInt, isTbNumericString, toPlainDecimal, INT64_MAX, INT64_MIN, TB_MAX_FRACTION_DIGITS } from './numbers';
export { payloadBudget, publishPacketSize, mqtt5PropertyBytes, varintLength } from './mqtt-size';
export { toMillis, AUTO_SECONDS_BELOW, AUTO_MICROS_FROM, AUTO_NANOS_FROM, MAX_TIMESTAMP_MS } from './timestamp';
