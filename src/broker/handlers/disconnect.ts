/** DISCONNECT from a client (section 3.14): will handling and session expiry changes. */
import type { Connection } from '../connection';
import { RC } from '../capabilities';

export function handleDisconnect(c: Connection, p: any): void {
  const s = c.session!;
  const rc: number = p.reasonCode ?? 0;
  const newExpiry = p.properties?.sessionExpiryInterval;
  if (c.protocolVersion === 5 && newExpiry !== undefined) {
    // 3.14.2.2.2: a non-zero Session Expiry Interval at DISCONNECT when CONNECT had 0 is a Protocol Error.
    if (s.connectExpiry === 0 && newExpiry !== 0) {
      c.sendWill = true;
      return c.close(RC.PROTOCOL_ERROR, 'session expiry interval was 0 at CONNECT');
    }
    s.expiryInterval = Math.min(newExpiry, c.broker.limits.maxSessionExpiryInterval);
  }
  // [MQTT-3.14.4-3] DISCONNECT 0x00 deletes the will; 0x04 (and any other code) keeps it.
  c.sendWill = rc !== RC.NORMAL_DISCONNECT;
  c.closeReason = rc;
  // [MQTT-3.14.4-1] the server closes the connection after DISCONNECT (no packet back).
  c.teardown(rc);
  c.stream.end();
}
