/** PUBACK from a client (section 3.4): completes an outbound QoS 1 message. */
import type { Connection } from '../connection';

export function handlePuback(c: Connection, p: any): void {
  const s = c.session!;
  const qm = s.inflight?.get(p.messageId);
  // an unknown id (or one of a QoS 2 message) is ignored: only a QoS 1 PUBLISH is completed by PUBACK [MQTT-4.3.2-3]
  if (!qm || qm.qos !== 1) return;
  c.acks++;
  c.broker.completeOutbound(s, p.messageId);
}
