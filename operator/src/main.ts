#!/usr/bin/env node
/** airlock-operator: flags and env → settings, KubeConfig the usual way, graceful shutdown. */
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger, endLog, type Logger } from '@airlock/sidecar/log';
import { SecretRegistry } from '@airlock/sidecar/redact';
import { startTracing, traceOfLine } from '@airlock/sidecar/telemetry';
import { ZodError } from 'zod';
import { startOperator } from './operator.js';
import { readSettings, settingsHelp } from './settings.js';
import { MountedSecretHeaders, operatorCollectorHeaders } from './telemetry/otlp-headers.js';

function usage(): string {
  return `usage: airlock-operator [--flag value]...\n\nEvery flag can also be set as AIRLOCK_<FLAG> (e.g. AIRLOCK_SIDECAR_IMAGE).\n\n${settingsHelp()}`;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage());
    return 0;
  }
  let settings;
  try {
    settings = readSettings(argv);
  } catch (err) {
    if (err instanceof ZodError) {
      for (const issue of err.issues) console.error(`airlock-operator: --${String(issue.path[0])}: ${issue.message}`);
      return 2;
    }
    console.error(`airlock-operator: ${(err as Error).message}`);
    return 2;
  }
  // The collector's secret headers, registered as the exporter reads them: no line shows them.
  const secrets = new SecretRegistry();
  const log = createLogger({ level: settings.logLevel, component: 'airlock-operator', context: traceOfLine, secrets });
  try {
    return await operate(settings, log, secrets);
  } finally {
    // The fatal line saying why it cannot start, or the shutdown's, written before the exit.
    await endLog(log);
  }
}

async function operate(settings: ReturnType<typeof readSettings>, log: Logger, secrets: SecretRegistry): Promise<number> {
  const collectorHeaders = new MountedSecretHeaders(settings.otlpHeadersDir);
  const tracing = await startTracing({
    serviceName: 'airlock-operator',
    endpoint: settings.otlpEndpoint,
    headers: () => operatorCollectorHeaders(settings.otlpHeaders, collectorHeaders, secrets, (reason) => log.warn({ reason }, 'OpenTelemetry: exporting without the secret headers')),
    resource: { 'service.instance.id': settings.identity },
    warn: (record, message) => log.warn(record, message),
  });
  const kubeConfig = new KubeConfig();
  try {
    // In a pod: the service account; elsewhere: KUBECONFIG or ~/.kube/config.
    kubeConfig.loadFromDefault();
  } catch (err) {
    log.fatal({ reason: (err as Error).message }, 'cannot load a kubeconfig (in a pod: the service account; elsewhere: KUBECONFIG or ~/.kube/config)');
    return 1;
  }
  let operator;
  try {
    operator = await startOperator({ kubeConfig, settings, log, collectorHeaders });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    log.fatal({ server: kubeConfig.getCurrentCluster()?.server, reason: (err as Error).message, cause }, 'cannot start: is the Kubernetes API reachable with this kubeconfig?');
    return 1;
  }
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info('shutting down: releasing leadership');
  await operator.stop();
  await tracing.shutdown();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
