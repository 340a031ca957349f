import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { traceOfLine } from '../telemetry/log-trace.js';
import { createLogger } from './logger.js';

describe('createLogger', () => {
  it("writes each line with its own fields only, with the trace context on (no span active: tracing off, the default)", async () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(...chunk.toString().trim().split('\n')), done()) });
    const log = createLogger({ level: 'info', context: traceOfLine, destination });
    log.warn({ err: 'HTTP-Code: 429', informer: 'mcpbackends' }, 'list/watch failed');
    log.info({ pod: 'agent-1' }, 'pod injected');
    log.info('a line with no fields of its own');
    await new Promise((resolve) => setImmediate(resolve));
    const [failed, injected, bare] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(failed).toMatchObject({ err: 'HTTP-Code: 429', informer: 'mcpbackends' });
    expect(injected).toMatchObject({ pod: 'agent-1', msg: 'pod injected' });
    expect(injected).not.toHaveProperty('err');
    expect(injected).not.toHaveProperty('informer');
    expect(Object.keys(bare!).sort()).toEqual(['component', 'level', 'msg', 'time']);
  });
});

describe('endLog', () => {
  it('lets the process exit when stdout is a pipe nobody reads (a stopped log reader cannot hold the exit)', async () => {
    // A child logs more than the pipe holds, ends its log and exits; the test never reads the
    // pipe. Before, the exit hung: pino's exit hook wrote what was left synchronously, for ever.
    const logger = fileURLToPath(new URL('./logger.ts', import.meta.url));
    const script = `
      import { createLogger, endLog } from ${JSON.stringify(logger)};
      const log = createLogger({ level: 'info' });
      for (let i = 0; i < 4000; i++) log.info({ i, filler: 'x'.repeat(200) }, 'filling the pipe');
      await endLog(log);
      process.exit(0);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
