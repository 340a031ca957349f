/**
 * The floor: the thinnest correct Node HTTP hop, to measure what one hop costs on this machine.
 * A `node:http` server on a Unix socket and on a loopback port that reads the request body,
 * forwards its bytes to the provider with Node's own HTTP client and a keep-alive Agent (the
 * sidecar's pool settings; the sidecar's client uses Node's parser without it since ADR 28) with the
 * provider key added, and streams the answer back with
 * its status and content type. No routing, parsing, validation, limits, accounting, metrics or
 * logging: whatever the sidecar spends above this is its own.
 *
 * Usage: node --import tsx bench/floor.ts <provider URL> <key> <socket path> <port>; prints
 * "ready" once both listeners are up.
 */
import { Agent, createServer, request as send, type IncomingMessage, type ServerResponse } from 'node:http';

const [providerURL, key, socketPath, port] = process.argv.slice(2) as [string, string, string, string];
const { hostname, port: providerPort, pathname } = new URL(providerURL);
const base = pathname.replace(/\/$/, '');
const agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: 30_000 });
const authorization = `Bearer ${key}`;

async function forward(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  // The client's path is /v1/...; the provider URL (like the sidecar's baseURL) already ends in /v1.
  const upstream = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = send({ agent, hostname, port: providerPort, path: base + request.url!.replace(/^\/v1/, ''), method: 'POST', headers: { 'content-type': 'application/json', authorization, 'content-length': body.length } }, resolve);
    req.on('error', reject).end(body);
  });
  response.writeHead(upstream.statusCode ?? 502, { 'content-type': String(upstream.headers['content-type'] ?? 'application/json') });
  for await (const chunk of upstream) response.write(chunk);
  response.end();
}

const handler = (request: IncomingMessage, response: ServerResponse) =>
  void forward(request, response).catch(() => {
    if (!response.headersSent) response.writeHead(502);
    response.end();
  });
await Promise.all([
  new Promise<void>((resolve) => createServer(handler).listen(socketPath, resolve)),
  new Promise<void>((resolve) => createServer(handler).listen(Number(port), '127.0.0.1', resolve)),
]);
console.log('ready');
process.on('SIGTERM', () => process.exit(0));
