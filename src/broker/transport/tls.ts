/** TLS listener; with requireCertificate, clients need a certificate signed by `ca`. */
import * as tls from 'node:tls';
import type { BrokerImpl } from '../broker';
import type { TlsListenerConfig } from '../types';
import type { ListenerHandle } from './index';
import { closeServer, listenServer } from './tcp';

export function certSubject(sock: tls.TLSSocket): string | undefined {
  if (!sock.authorized) return undefined;
  const cert = sock.getPeerCertificate();
  if (!cert || !cert.subject) return undefined;
  return Object.entries(cert.subject)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .join(',');
}

export async function startTls(broker: BrokerImpl, cfg: TlsListenerConfig, id: string): Promise<ListenerHandle> {
  const host = cfg.host ?? '0.0.0.0';
  const server = tls.createServer(
    {
      key: cfg.key,
      cert: cfg.cert,
      ca: cfg.ca,
      passphrase: cfg.passphrase,
      requestCert: cfg.requireCertificate === true,
      rejectUnauthorized: cfg.requireCertificate === true,
    },
    (sock) => {
      sock.setNoDelay(true);
      broker.handleStream(sock, { listener: id, remoteAddress: `${sock.remoteAddress}:${sock.remotePort}`, certificateSubject: certSubject(sock) });
    },
  );
  server.on('tlsClientError', (error) => broker.emit('clientError', { error }));
  server.on('error', (error) => broker.emit('listenerError', { listener: cfg, error }));
  const port = await listenServer(server, cfg.port, host);
  return { info: { id, type: 'tls', host, port }, config: cfg, close: () => closeServer(server) };
}
