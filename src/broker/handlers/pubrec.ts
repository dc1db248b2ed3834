/** PUBREC from a client (section 3.5): first half of the outbound QoS 2 handshake. */
import type { Connection } from '../connection';
import { RC } from '../capabilities';

export function handlePubrec(c: Connection, p: any): void {
  const s = c.session!;
  const id: number = p.messageId;
  const qm = s.inflight?.get(id);
  if (!qm || qm.qos !== 2) {
    // 3.6.2.1: unknown packet id -> PUBREL 0x92 (Packet Identifier not found).
    if (c.protocolVersion === 5) c.send({ cmd: 'pubrel', messageId: id, reasonCode: RC.PACKET_IDENTIFIER_NOT_FOUND });
    else c.send({ cmd: 'pubrel', messageId: id });
    return;
  }
  if (c.protocolVersion === 5 && (p.reasonCode ?? 0) >= 0x80) {
    // [MQTT-4.4.0-2] [MQTT-3.3.4-9] PUBREC >= 0x80 acknowledges the message: never resent, frees the window;
    // for a $share delivery it is not sent to another member either [MQTT-4.8.2-6].
    c.broker.completeOutbound(s, id);
    return;
  }
  if (qm.state !== 'pubrel') {
    qm.state = 'pubrel'; // [MQTT-4.3.3-4] after PUBREC the sender must send PUBREL
    if (s.persistent) c.broker.storeOp(c.broker.store.updateQueued(s.clientId, qm));
  }
  c.sendPubrel(id);
}
