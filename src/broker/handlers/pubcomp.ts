/** PUBCOMP from a client (section 3.7): completes an outbound QoS 2 message. */
import type { Connection } from '../connection';

export function handlePubcomp(c: Connection, p: any): void {
  const s = c.session!;
  const qm = s.inflight?.get(p.messageId);
  if (!qm || qm.qos !== 2) return;
  c.acks++;
  c.broker.completeOutbound(s, p.messageId);
}
