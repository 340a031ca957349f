/** The usage route alone on a loopback port, for the tests of what it answers. */
import { HttpApp, PLAIN_ANSWERS, plainError } from '@airlock/sidecar/http';
import { usageRoute, type UsageSource } from './route.js';

/** A running route: its base URL and how to stop it. */
export interface RunningRoute {
  base: string;
  close(): Promise<void>;
}

/** Serves the usage route from `source` on 127.0.0.1, on a free port. */
export async function startUsageRoute(source: UsageSource): Promise<RunningRoute> {
  const app = new HttpApp({ bodyLimit: 0, ...PLAIN_ANSWERS });
  usageRoute(app, source, plainError(console));
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { base: `http://127.0.0.1:${app.address().port}`, close: () => app.close() };
}
