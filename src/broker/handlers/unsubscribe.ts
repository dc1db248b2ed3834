/** UNSUBSCRIBE (MQTT 5 section 3.10): remove subscriptions; UNSUBACK with a code per filter. */
import type { Connection } from '../connection';
import { RC } from '../capabilities';

export function handleUnsubscribe(c: Connection, p: any): void {
  // [MQTT-2.2.1-3] SUBSCRIBE / UNSUBSCRIBE carry a non-zero packet identifier
  if (!p.messageId) return c.close(RC.PROTOCOL_ERROR, 'packet identifier 0');
  const broker = c.broker;
  const s = c.session!;
  const filters: string[] = p.unsubscriptions ?? [];
  // [MQTT-3.10.2-2] at least one filter
  if (filters.length === 0) return c.close(RC.PROTOCOL_ERROR, 'UNSUBSCRIBE without filters');
  const codes: number[] = [];
  const removed: string[] = [];
  for (const f of filters) {
    // [MQTT-3.10.4-1] the filter is compared character by character with existing ones
    if (broker.removeSubscription(s, f)) {
      codes.push(RC.SUCCESS);
      removed.push(f);
    } else codes.push(RC.NO_SUBSCRIPTION_EXISTED);
  }
  // [MQTT-3.10.4-4] UNSUBACK with the same packet id; MQTT 5: one reason code per filter [MQTT-3.11.3-1]
  if (c.protocolVersion === 5) {
    const properties = c.reasonProps(removed.length < filters.length ? 'no subscription existed for one or more filters' : undefined);
    c.send(properties ? { cmd: 'unsuback', messageId: p.messageId, granted: codes, properties } : { cmd: 'unsuback', messageId: p.messageId, granted: codes });
  }
  else c.send({ cmd: 'unsuback', messageId: p.messageId });
  if (removed.length) {
    if (s.persistent) broker.saveSession(s);
    broker.emit('unsubscribed', { clientId: s.clientId, topicFilters: removed });
  }
}
