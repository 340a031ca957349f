/**
 * A pod's network namespace. In a cluster every container of a pod shares one network
 * namespace of its own; so here, unless the caller asks for the host's. The namespace lives as
 * long as a small "infra" process (the pause container's role), which also publishes chosen
 * host endpoints inside it: pod 127.0.0.1:P is carried over a Unix socket to host 127.0.0.1:P.
 * That is how a sidecar in the pod reaches a mock provider on the host, while the pod still has
 * its own ports (the sidecar's admin port 9090 cannot clash with the host's) and its own
 * iptables (the firewall init container really runs, and changes nothing on the host).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { once } from 'node:events';
import { hostCommand, nodeWithTsx } from './runtime.js';

export interface PodNetworkOptions {
  /** `pod`: a network namespace of its own (the default); `host`: the test machine's. */
  mode: 'pod' | 'host';
  /** Host TCP ports on 127.0.0.1 to publish on the pod's 127.0.0.1 (pod mode). */
  forwardPorts?: readonly number[];
  /** Where the forwarding sockets go (the pod's directory). */
  dir: string;
}

export interface PodNetwork {
  mode: 'pod' | 'host';
  /** A command prefix that runs what follows inside the namespace (empty for the host's). */
  join: string[];
  close(): Promise<void>;
}

const pipeBoth = (a: Socket, b: Socket) => {
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.pipe(b).pipe(a);
};

/** Creates the pod's network namespace (lo up, forwards in place), or returns the host's. */
export async function startPodNetwork(options: PodNetworkOptions): Promise<PodNetwork> {
  if (options.mode === 'host') return { mode: 'host', join: [], close: async () => undefined };

  const servers: Server[] = [];
  const forwards: { port: number; path: string }[] = [];
  for (const port of options.forwardPorts ?? []) {
    const path = join(options.dir, `net-${port}.sock`);
    const server = createServer((client) => pipeBoth(client, connect(port, '127.0.0.1')));
    server.listen(path);
    await once(server, 'listening');
    servers.push(server);
    forwards.push({ port, path });
  }

  const infraScript = join(import.meta.dirname, 'infra.ts');
  const [setpriv, unshare, sh] = [hostCommand('setpriv'), hostCommand('unshare'), hostCommand('sh')];
  // pdeathsig: if the test process dies, the namespace dies with its infra process.
  const infra: ChildProcess = spawn(
    setpriv,
    ['--pdeathsig', 'SIGKILL', '--', unshare, '--net', '--', sh, '-c', 'ip link set lo up && exec "$@"', 'infra', ...nodeWithTsx(), infraScript, JSON.stringify(forwards)],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: hostPath() } },
  );
  let output = '';
  infra.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  await new Promise<void>((resolve, reject) => {
    infra.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('ready\n')) resolve();
    });
    infra.once('error', reject);
    infra.once('exit', (code) => reject(new Error(`the pod network's infra process exited (${code}):\n${output}`)));
  });

  return {
    mode: 'pod',
    join: [hostCommand('nsenter'), `--net=/proc/${infra.pid}/ns/net`, '--'],
    async close() {
      if (infra.exitCode === null && infra.signalCode === null) {
        infra.kill('SIGKILL');
        await once(infra, 'exit');
      }
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
}

function hostPath(): string {
  return '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
}
