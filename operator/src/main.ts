#!/usr/bin/env node
/** airlock-operator: flags and env → settings, KubeConfig the usual way, graceful shutdown. */
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { ZodError } from 'zod';
import { startOperator } from './operator.js';
import { readSettings } from './settings.js';

async function main(): Promise<number> {
  let settings;
  try {
    settings = readSettings(process.argv.slice(2));
  } catch (err) {
    if (err instanceof ZodError) {
      for (const issue of err.issues) console.error(`airlock-operator: --${String(issue.path[0])}: ${issue.message}`);
      return 2;
    }
    console.error(`airlock-operator: ${(err as Error).message}`);
    return 2;
  }
  const log = pino({ level: settings.logLevel, base: { component: 'airlock-operator' } });
  const kubeConfig = new KubeConfig();
  // In a pod: the service account; elsewhere: KUBECONFIG or ~/.kube/config.
  kubeConfig.loadFromDefault();
  const operator = await startOperator({ kubeConfig, settings, log });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info('shutting down: releasing leadership');
  await operator.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
