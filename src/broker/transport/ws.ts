/**
 * WebSocket listener (MQTT over WebSocket, section 6): binary frames, subprotocol "mqtt"
 * [MQTT-6.0.0-3]. Own port (ws or wss), or attached to an existing http.Server at a path.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';
import type { BrokerImpl } from '../broker';
import type { WsListenerConfig } from '../types';
import type { ListenerHandle } from './index';
import { closeServer, listenServer } from './tcp';

function chooseProtocol(protocols: Set<string>): string | false {
  if (protocols.has('mqtt')) return 'mqtt';
  if (protocols.has('mqttv3.1')) return 'mqttv3.1';
  return false;
}

export async function startWs(broker: BrokerImpl, cfg: WsListenerConfig, id: string): Promise<ListenerHandle> {
  const path = cfg.path ?? '/mqtt';
  const wss = new WebSocketServer({ noServer: true, handleProtocols: chooseProtocol, maxPayload: broker.limits.maxPacketSize + 8 });
  const onConnection = (ws: WebSocket, req: http.IncomingMessage): void => {
    const stream = createWebSocketStream(ws);
    // the ws stream emits errors for protocol violations; the connection handles them
    stream.on('error', () => undefined);
    broker.handleStream(stream as Duplex, { listener: id, remoteAddress: `${req.socket.remoteAddress}:${req.socket.remotePort}` });
  };
  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = (req.url ?? '/').split('?')[0];
    if (url !== path) {
      if (cfg.server) return; // another upgrade handler on the shared server may take it
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req));
  };
  const closeWss = (): Promise<void> =>
    new Promise((resolve) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => resolve());
    });

  if (cfg.server) {
    const server = cfg.server;
    server.on('upgrade', onUpgrade);
    const addr = server.address();
    const host = addr && typeof addr === 'object' ? addr.address : '';
    return {
      info: { id, type: 'ws', host, port: 0, path },
      config: cfg,
      close: async () => {
        server.off('upgrade', onUpgrade);
        await closeWss();
      },
    };
  }
  if (cfg.port === undefined) throw new Error('ws listener needs a port or a server');
  const secure = !!(cfg.key && cfg.cert);
  const server = secure
    ? https.createServer({ key: cfg.key, cert: cfg.cert, ca: cfg.ca, requestCert: cfg.requireCertificate === true, rejectUnauthorized: cfg.requireCertificate === true })
    : http.createServer();
  server.on('request', (_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('MQTT over WebSocket only\n');
  });
  server.on('upgrade', onUpgrade);
  server.on('error', (error) => broker.emit('listenerError', { listener: cfg, error }));
  const host = cfg.host ?? '0.0.0.0';
  const port = await listenServer(server, cfg.port, host);
  return {
    info: { id, type: secure ? 'wss' : 'ws', host, port, path },
    config: cfg,
    close: async () => {
      await closeWss();
      server.closeAllConnections?.();
      await closeServer(server);
    },
  };
}
