/**
 * The OpenAI-format mock of test/mocks as a server for a cluster: the kind e2e bundles this file
 * (esbuild, no dependencies but Node) into a small image and runs it as a Deployment. The mock
 * itself listens on 127.0.0.1; this process publishes it on 0.0.0.0:$PORT (default 8080).
 * MOCK_KEYS (comma-separated) are the API keys it accepts; unset accepts any.
 */
import { connect, createServer } from 'node:net';
import { startMock } from '../../mocks/index.js';

const port = Number(process.env.PORT ?? 8080);
const keys = (process.env.MOCK_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean);
const mock = await startMock('openai', keys.length > 0 ? { keys } : {});

const server = createServer((client) => {
  const upstream = connect(mock.port, '127.0.0.1');
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.pipe(upstream).pipe(client);
});
server.listen(port, '0.0.0.0', () => console.log(`openai mock listening on 0.0.0.0:${port} (${keys.length} keys)`));

// The mock records every request; a long-lived server forgets them now and then.
setInterval(() => mock.reset(), 60_000).unref();

process.once('SIGTERM', () => {
  server.close();
  void mock.close().then(() => process.exit(0));
});
