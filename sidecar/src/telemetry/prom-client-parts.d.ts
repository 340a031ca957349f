/**
 * Types for the prom-client modules the sidecar loads by path (metrics.ts): prom-client
 * declares its types on its index only, and these modules export the index's classes as they are.
 */
declare module 'prom-client/lib/registry.js' {
  import { Registry } from 'prom-client';
  export = Registry;
}

declare module 'prom-client/lib/counter.js' {
  import { Counter } from 'prom-client';
  export = Counter;
}

declare module 'prom-client/lib/gauge.js' {
  import { Gauge } from 'prom-client';
  export = Gauge;
}

/** prom-client's default collectors, one module each: `(registry) => void` registers its metrics. */
declare module 'prom-client/lib/metrics/*.js' {
  import type { Registry } from 'prom-client';
  const register: (registry?: Registry, config?: { prefix?: string; labels?: Record<string, string> }) => void;
  export = register;
}
