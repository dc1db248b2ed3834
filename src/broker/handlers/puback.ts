/** PUBACK from a client (section 3.4): completes an outbound QoS 1 message. */
import type { Connection } from '../connection';

export function handlePuback(c: Connection, p: any): void {
  const s = c.session!;
  const qm = s.inflight?.get(p.messageId);
  // an unknown or QoS 2 id is ignored ([MQTT-4.3.2-?] the sender only discards what it sent at QoS 1)
  if (!qm || qm.qos !== 1) return;
  c.acks++;
  c.broker.completeOutbound(s, p.messageId);
}
