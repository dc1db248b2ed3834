/** Listeners: TCP, TLS and WebSocket (own port, or attached to an http.Server at a path). */
import type { BrokerImpl } from '../broker';
import type { ListenerConfig, ListenerInfo } from '../types';
import { startTcp } from './tcp';
import { startTls } from './tls';
import { startWs } from './ws';

export interface ListenerHandle {
  info: ListenerInfo;
  config: ListenerConfig;
  /** Stop accepting; resolves once the server is closed. */
  close(): Promise<void>;
}

export function startListener(broker: BrokerImpl, cfg: ListenerConfig, id: string): Promise<ListenerHandle> {
  switch (cfg.type) {
    case 'tcp':
      return startTcp(broker, cfg, id);
    case 'tls':
      return startTls(broker, cfg, id);
    case 'ws':
      return startWs(broker, cfg, id);
    default:
      return Promise.reject(new Error(`unknown listener type "${(cfg as { type: string }).type}"`));
  }
}
