/** Plain TCP listener (binds exactly the host given; default 0.0.0.0). */
import * as net from 'node:net';
import type { BrokerImpl } from '../broker';
import type { TcpListenerConfig } from '../types';
import type { ListenerHandle } from './index';

export function listenServer(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

export async function startTcp(broker: BrokerImpl, cfg: TcpListenerConfig, id: string): Promise<ListenerHandle> {
  const host = cfg.host ?? '0.0.0.0';
  const server = net.createServer({ noDelay: true }, (sock) => {
    broker.handleStream(sock, { listener: id, remoteAddress: `${sock.remoteAddress}:${sock.remotePort}` });
  });
  server.on('error', (error) => broker.emit('listenerError', { listener: cfg, error }));
  const port = await listenServer(server, cfg.port, host);
  return { info: { id, type: 'tcp', host, port }, config: cfg, close: () => closeServer(server) };
}
