/**
 * The infra process of a pod network (see network.ts): runs inside the pod's network namespace
 * and listens on 127.0.0.1:P for each forward, piping every connection to the host-side Unix
 * socket that leads to the host's 127.0.0.1:P. Prints `ready` once every port listens.
 *
 * argv[2]: JSON `[{ "port": 8080, "path": "/tmp/.../net-8080.sock" }, ...]`
 */
import { connect, createServer } from 'node:net';
import { once } from 'node:events';

const forwards = JSON.parse(process.argv[2] ?? '[]') as { port: number; path: string }[];
for (const { port, path } of forwards) {
  const server = createServer((client) => {
    const upstream = connect(path);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
}
process.on('SIGTERM', () => process.exit(0));
// The namespace lives as long as this process: stay up even with nothing to forward.
setInterval(() => undefined, 2 ** 30);
process.stdout.write('ready\n');
