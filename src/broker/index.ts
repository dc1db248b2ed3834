/**
 * node-red-contrib-mqtt5-hub/broker: an embedded MQTT 3.1 / 3.1.1 / 5.0 broker.
 *
 *   const broker = createBroker({ listeners: [{ type: 'tcp', port: 1883, host: '127.0.0.1' }] });
 *   await broker.listen();
 *
 * Spec features and the tests that cover them (test/broker/):
 *   MQTT 3.1 / 3.1.1 / 5.0 on one listener, CONNACK capabilities, assigned client ids,
 *     Server Keep Alive, keep-alive timeout 0x8D, CONNECT timeout, max connections 0x97,
 *     second CONNECT 0x82, unsupported protocol level ................................ connect.test.ts
 *   QoS 0/1/2 both directions, PUBACK 0x10, inbound QoS 2 de-duplication, PUBREL 0x92,
 *     Receive Maximum inbound (0x93) and outbound (window) ................................. qos.test.ts
 *   persistent sessions (MQTT 5 expiry, 3.1.1 clean session 0), resend with DUP / PUBREL on
 *     resume, expiry change at DISCONNECT (not from 0: 0x82), takeover 0x8E, restore from store session.test.ts
 *   retained + Retain Handling 0/1/2, Retain As Published, No Local, subscription identifiers
 *     (all ids on one delivery), $-topics vs # and +, filter validation 0x8F / 0x80 ..... subscribe.test.ts
 *   will: network loss, DISCONNECT 0x00 vs 0x04, keep-alive timeout, Will Delay Interval,
 *     cancelled by reconnect, session end, will properties ................................ will.test.ts
 *   Message Expiry (decremented, never delivered expired, retained too), topic aliases in/out,
 *     Maximum Packet Size both ways, payload format 0x99, request/response + user props  properties.test.ts
 *   $share: one member per message (round robin), skip full windows, leaving / stalled member
 *     redistribution, no retained, invalid share names 0x8F, No Local on a share 0x82 ..... shared.test.ts
 *   malformed packets 0x81, oversize header 0x95, protocol errors, slow subscribers (drops
 *     counted, bounded queues), close() with a stalled client .......................... robustness.test.ts
 *   enhanced authentication (AUTH), users via security hooks, the hook chain, read ACL ..... auth.test.ts
 *   $SYS/broker/... statistics ............................................................ sys.test.ts
 *   in-process client (auth unless trusted, ACL, QoS, retained, sub ids, $share, sessions)  inprocess.test.ts
 *   TCP, TLS (openssl cert), WebSocket on its own port and attached to an http.Server,
 *     exact bind host, removeListener / close() with 0x8B ............................. transport.test.ts
 *   PUBLISH / ack / CONNECT fast paths proven against mqtt-packet; framing ............... codec.test.ts
 *   topic trie (matching, match cache invalidation, retained walks, $share parsing) ........ trie.test.ts
 *   the mqtt5-hub CLI ..................................................................... cli.test.ts
 *   a first end-to-end tour (QoS 0/1, retained, unsubscribe, ping, in-process) ........... basics.test.ts
 *
 * Limits and their reason codes are in capabilities.ts (BrokerLimits defaults: DEFAULT_LIMITS).
 * Flow control: a publisher whose messages land on a congested (but progressing) subscriber is
 * not read until it drains; a subscriber without progress for 1 s is "stalled": its QoS 0
 * messages are dropped above 4 MiB of socket buffer and its QoS>0 queue is capped by maxQueued
 * (both counted). PUBACK/PUBREC wait until the message is in the store when it went there.
 * Deliberate choices: a leaving $share member's queued and QoS 1 messages go to the other
 * members (see broker.ts redistributeShared); on broker shutdown the wills of non-persistent
 * sessions are published, those of persistent sessions are stored and published after a restart
 * when due; QoS 0 is not queued for offline sessions.
 */
import { BrokerImpl } from './broker';
import type { Broker, BrokerOptions } from './types';

export * from './types';
export { hashPassword } from './security';
export * from './store';
export { DEFAULT_LIMITS, RC } from './capabilities';
export { BROKER_VERSION } from './broker';

/** Create a broker. Call `listen()` to open the store and start the configured listeners. */
export function createBroker(options: BrokerOptions = {}): Broker {
  return new BrokerImpl(options);
}
