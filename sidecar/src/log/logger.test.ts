import { Writable } from 'node:stream';
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
