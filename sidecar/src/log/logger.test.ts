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

describe('stdout backlog', () => {
  const logger = fileURLToPath(new URL('./logger.ts', import.meta.url));

  /** Runs `script` (ESM, with createLogger, endLog and logDrops in scope) with stdout a pipe read only once its stderr says `read`. */
  async function runUnread(script: string): Promise<{ code: number | null; stdout: string; report: Record<string, number> }> {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { createLogger, endLog, logDrops } from ${JSON.stringify(logger)};\n${script}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      let stdout = '';
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        // What the child measured while nobody read; then the pipe is read and the child goes on.
        if (stderr.includes('\n') && !child.stdout!.listenerCount('data')) {
          child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
          child.stdin!.end('read\n');
        }
      });
      const [code] = (await once(child, 'exit')) as [number | null];
      return { code, stdout, report: JSON.parse(stderr.split('\n')[0]!) as Record<string, number> };
    } finally {
      child.kill('SIGKILL');
    }
  }

  it('holds at most its bound when stdout is not read, drops the rest whole and counted, and says so once read again', async () => {
    // 12,000 lines of 8 KiB (~94 MiB) to a pipe nobody reads: before, all of it waited in memory
    // (red team 21: a backend's stderr grew the sidecar ~130 MiB a second until it was killed).
    const { code, stdout, report } = await runUnread(`
      const log = createLogger({ level: 'info', maxBacklogBytes: 1024 * 1024 });
      const filler = 'x'.repeat(8192);
      const before = process.memoryUsage().rss;
      let peak = before;
      for (let i = 0; i < 12000; i++) {
        log.info({ i, filler }, 'flood');
        if (i % 200 === 0) {
          await new Promise((resolve) => setImmediate(resolve));
          peak = Math.max(peak, process.memoryUsage().rss);
        }
      }
      process.stderr.write(JSON.stringify({ grewMiB: (peak - before) / 2 ** 20, dropped: logDrops(log).backlog }) + '\\n');
      await new Promise((resolve) => process.stdin.once('data', resolve));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      log.info('after the flood');
      await endLog(log);
      process.exit(0);
    `);
    expect(code).toBe(0);
    expect(report.grewMiB).toBeLessThan(40);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { msg: string; droppedLines?: number });
    const written = lines.filter((line) => line.msg === 'flood').length;
    // Each line whole or not at all: every one parsed; the ones not written are the ones counted.
    expect(report.dropped).toBeGreaterThan(10_000);
    expect(written + report.dropped!).toBe(12_000);
    expect(lines.find((line) => line.droppedLines !== undefined)).toMatchObject({ droppedLines: report.dropped, msg: `dropped ${report.dropped} log lines: stdout did not take them as fast as they were written` });
    expect(lines.at(-1)!.msg).toBe('after the flood');
  }, 60_000);

  it('writes every ordinary line whole and reports no drop', async () => {
    const { code, stdout, report } = await runUnread(`
      const log = createLogger({ level: 'info' });
      for (let i = 0; i < 2000; i++) log.info({ i, text: 'y'.repeat(500) }, 'ordinary');
      process.stderr.write(JSON.stringify({ dropped: logDrops(log).backlog }) + '\\n');
      await new Promise((resolve) => process.stdin.once('data', resolve));
      await endLog(log);
      process.exit(0);
    `);
    expect(code).toBe(0);
    expect(report.dropped).toBe(0);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { i: number; text: string });
    expect(lines.map((line) => line.i)).toEqual([...Array(2000).keys()]);
    expect(lines.every((line) => line.text.length === 500)).toBe(true);
  }, 60_000);
});
