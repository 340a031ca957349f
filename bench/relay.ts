/**
 * The relay: bytes, not HTTP. Each connection to its Unix socket or loopback port gets one
 * connection to the provider, and the bytes are copied both ways as they come; nothing is parsed,
 * added or checked (the client sends the provider key itself). No proxy can do less per request,
 * so what it adds is what one more process on the path costs on this machine: the wake-ups and
 * socket copies any hop pays, below the floor's HTTP (bench/floor.ts) and the sidecar's own work.
 *
 * Usage: node --import tsx bench/relay.ts <provider URL> <socket path> <port>; prints "ready" once
 * both listeners are up.
 */
import { connect, createServer, type Socket } from 'node:net';

const [providerURL, socketPath, port] = process.argv.slice(2) as [string, string, string];
const { hostname, port: providerPort } = new URL(providerURL);

function relay(client: Socket): void {
  const upstream = connect({ host: hostname, port: Number(providerPort), noDelay: true });
  client.setNoDelay?.(true);
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close).on('close', close);
  upstream.on('error', close).on('close', close);
}

await Promise.all([
  new Promise<void>((resolve) => createServer(relay).listen(socketPath, resolve)),
  new Promise<void>((resolve) => createServer(relay).listen(Number(port), '127.0.0.1', resolve)),
]);
console.log('ready');
process.on('SIGTERM', () => process.exit(0));
