/** Node-RED status objects for the client's connection state, shared by every mqtt5 node. */
import type { ClientStatus } from './client-controller';

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

function counters(s: ClientStatus): string {
  const parts: string[] = [];
  if (s.queued) parts.push(`${s.queued} queued`);
  if (s.dropped) parts.push(`${s.dropped} QoS 0 dropped`);
  return parts.length ? ` · ${parts.join(' · ')}` : '';
}

export function statusFor(s: ClientStatus, extra?: string): NodeStatus {
  const x = extra ? ` · ${extra}` : '';
  switch (s.state) {
    case 'connected':
      return { fill: 'green', shape: 'dot', text: `connected${x}${counters(s)}` };
    case 'connecting':
      return {
        fill: 'yellow',
        shape: 'ring',
        text: `connecting${s.reason ? ` (last: ${s.reason})` : ''}${counters(s)}`,
      };
    case 'disconnected':
      return { fill: 'red', shape: 'ring', text: `disconnected${s.reason ? `: ${s.reason}` : ''}${counters(s)}` };
    case 'idle':
    default:
      return { fill: 'grey', shape: 'ring', text: 'not connected' };
  }
}
