// Aedes 1.2.0 on 127.0.0.1:<port> for `npm run bench` (a separate process, default options).
import net from 'node:net';
import process from 'node:process';
import { setTimeout } from 'node:timers';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: node bench/aedes-server.mjs <port>\n');
  process.exit(2);
}
const aedes = await Aedes.createBroker();
const server = net.createServer(aedes.handle);
server.on('connection', (s) => s.setNoDelay(true));
server.listen(port, '127.0.0.1', () => process.stdout.write(`aedes listening on 127.0.0.1:${port}\n`));
const stop = () => {
  server.close();
  aedes.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
