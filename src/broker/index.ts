/**
 * node-red-contrib-mqtt5-hub/broker: an embedded MQTT 3.1 / 3.1.1 / 5.0 broker.
 *
 *   const broker = createBroker({ listeners: [{ type: 'tcp', port: 1883, host: '127.0.0.1' }] });
 *   await broker.listen();
 *
 * Spec features and the tests that cover them (test/broker/):
 *   CONNECT/CONNACK, MQTT 3.1/3.1.1/5 on one listener, assigned ids, Server Keep Alive,
 *     keep-alive timeout 0x8D, connect timeout, max connections 0x97 ........ connect.test.ts
 *   PUBLISH QoS 0/1/2 both ways, PUBACK/PUBREC/PUBREL/PUBCOMP, 0x10, Receive Maximum
 *     both ways (0x93), inbound QoS 2 dedup ........................................ qos.test.ts
 *   persistent sessions, Session Expiry (incl. DISCONNECT change, not from 0: 3.14.2.2.2),
 *     resend with DUP on resume, takeover 0x8E ................................. session.test.ts
 *   retained, Retain Handling 0/1/2, Retain As Published, No Local, subscription ids,
 *     $-topics vs wildcards, filter validation .............................. subscribe.test.ts
 *   Will (delay, properties, 0x00 vs 0x04, network loss, cancelled on reconnect) .. will.test.ts
 *   Message Expiry, topic aliases in/out, Maximum Packet Size both ways, payload format,
 *     request/response properties, user properties ......................... properties.test.ts
 *   $share groups (round robin, skip full windows, redistribution, no retained, 0x8F) shared.test.ts
 *   malformed/oversize packets, protocol errors, slow subscribers ............... robustness.test.ts
 *   enhanced authentication (AUTH), hook chain ........................................ auth.test.ts
 *   $SYS topics ......................................................................... sys.test.ts
 *   in-process client ............................................................ inprocess.test.ts
 *   TCP / TLS / WebSocket (own port and attached), close() with stalled clients transport.test.ts
 *   mqtt5-hub CLI ........................................................................ cli.test.ts
 */
import { BrokerImpl } from './broker';
import type { Broker, BrokerOptions } from './types';

export * from './types';
export { hashPassword } from './security';
export * from './store';
export { DEFAULT_LIMITS, RC } from './capabilities';
export { BROKER_VERSION } from './broker';

/** Create a broker. Call `listen()` to open the store and start the configured listeners. */
export function createBroker(options: BrokerOptions = {}): Broker & { addHooks(h: import('./types').BrokerHooks): void } {
  return new BrokerImpl(options);
}
