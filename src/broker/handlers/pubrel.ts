/** PUBREL from a client (section 3.6): releases an inbound QoS 2 packet id, answered by PUBCOMP. */
import type { Connection } from '../connection';
import { RC } from '../capabilities';

export function handlePubrel(c: Connection, p: any): void {
  const s = c.session!;
  const id: number = p.messageId;
  const known = s.inboundQos2 !== null && s.inboundQos2.delete(id);
  // [MQTT-4.3.3-11] PUBCOMP with the same packet id; 0x92 when we do not know it (MQTT 5).
  if (c.protocolVersion === 5 && !known) c.send({ cmd: 'pubcomp', messageId: id, reasonCode: RC.PACKET_IDENTIFIER_NOT_FOUND });
  else c.sendAck('pubcomp', id);
}
