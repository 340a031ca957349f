import { describe, expect, it } from 'vitest';
import { AnswerBudget } from '../upstream/answer-budget.js';
import { Metrics } from './metrics.js';

describe('sidecar provider gauges', () => {
  it('report breaker state and key states per provider at scrape time, never a key value', async () => {
    const metrics = new Metrics();
    metrics.watchProviders(() => [{ name: 'primary', breaker: 'open', keys: ['healthy', 'disabled', 'resting'] }]);
    const text = await metrics.registry.metrics();
    expect(text).toContain('airlock_provider_circuit_state{provider="primary",state="open"} 1');
    expect(text).toContain('airlock_provider_circuit_state{provider="primary",state="closed"} 0');
    expect(text).toContain('airlock_provider_keys{provider="primary",state="disabled"} 1');
    expect(text).toContain('airlock_provider_keys{provider="primary",state="healthy"} 1');
  });
});

describe('answer bytes gauge', () => {
  it('reports the bytes of answers held at scrape time, and none once they are released', async () => {
    const metrics = new Metrics();
    const answers = new AnswerBudget(8 * 1024 * 1024);
    metrics.watchAnswers(() => answers.bytes);
    answers.hold(6 * 1024 * 1024, 6 * 1024 * 1024);
    expect(await metrics.registry.metrics()).toContain(`airlock_answer_bytes_in_flight ${6 * 1024 * 1024}`);
    answers.release(6 * 1024 * 1024);
    expect(await metrics.registry.metrics()).toContain('airlock_answer_bytes_in_flight 0');
  });
});

describe('durations', () => {
  it('are told apart up to the longest call (600 s), past the conventions\' last bound of 81.92 s', async () => {
    const metrics = new Metrics();
    metrics.duration.cell({ gen_ai_operation_name: 'chat', gen_ai_provider_name: 'openai', gen_ai_request_model: 'm', error_type: '' }).observe(300);
    const text = await metrics.registry.metrics();
    const bucket = (le: string) => Number(new RegExp(`gen_ai_client_operation_duration_seconds_bucket\\{le="${le}"[^}]*\\} (\\d+)`).exec(text)?.[1]);
    expect([bucket('81.92'), bucket('163.84'), bucket('327.68'), bucket('655.36'), bucket('\\+Inf')]).toEqual([0, 0, 1, 1, 1]);
  });
});
