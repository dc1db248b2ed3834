/** PINGREQ (section 3.12): answer PINGRESP [MQTT-3.12.4-1]. */
import type { Connection } from '../connection';

const PINGRESP = Buffer.from([0xd0, 0x00]);

export function handlePingreq(c: Connection): void {
  c.writeRaw(PINGRESP);
}
