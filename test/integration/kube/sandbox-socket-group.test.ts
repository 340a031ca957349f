/**
 * A sandbox whose `spec.socket.group` is airlock-tools' group (the chart's tools UID) has every
 * pod refused by the webhook (P6): the sandbox says so itself, against a real API server, with an
 * operator whose tools UID is not the default, so the check follows the chart's setting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentSandbox, conditionOf, documents, operatorForNamespace, providerFixture } from './fixtures.js';
import { kubectl } from './kubectl.js';
import type { TestOperator } from './operator-harness.js';

const TOOLS_UID = 61400;
const SIDECAR_UID = 61337;
const DEFAULT_TOOLS_UID = 61338;

let ns: string;
let test: TestOperator;
const apply = (yaml: string) => kubectl().ok(['apply', '-n', ns, '-f', '-'], yaml);
const condition = (name: string, type: string) => conditionOf(ns, 'asbx', name, type);
const events = async (name: string) =>
  (JSON.parse(await kubectl().ok(['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${name}`, '-o', 'json'])).items as { type: string; reason: string; message: string }[]);

beforeAll(async () => {
  ({ ns, test } = await operatorForNamespace('socket-group', { toolsUid: TOOLS_UID, sidecarUid: SIDECAR_UID }));
  await apply(providerFixture({ name: 'openai', type: 'openai', models: ['gpt-4o-mini'], key: { secret: 'openai-keys', key: 'primary', value: 'sk-test-socket-group-0000000001' } }));
});

afterAll(async () => {
  await test?.operator.stop();
});

describe('AgentSandbox with spec.socket.group', () => {
  it("is not Ready when it is airlock-tools' group, naming the field and the group, with a Warning Event", async () => {
    await apply(documents(agentSandbox('tools-group', ['openai'], { socket: { group: TOOLS_UID } })));
    await expect.poll(() => condition('tools-group', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'False', reason: 'SocketGroupReserved' });
    const allowed = await condition('tools-group', 'SocketGroupAllowed');
    expect(allowed).toMatchObject({ status: 'False', reason: 'SocketGroupReserved' });
    expect(allowed!.message).toContain(`spec.socket.group ${TOOLS_UID} is the group of Airlock's airlock-tools container`);
    expect(allowed!.message).toContain('the webhook refuses new pods of this sandbox; choose another group');
    await expect.poll(async () => (await events('tools-group')).filter((e) => e.type === 'Warning' && e.reason === 'SocketGroupReserved').length, { timeout: 10_000 }).toBeGreaterThan(0);
  });

  it('is Ready again once the group is another, the condition gone', async () => {
    await apply(documents(agentSandbox('tools-group', ['openai'], { socket: { group: 2000 } })));
    await expect.poll(() => condition('tools-group', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
    expect(await condition('tools-group', 'SocketGroupAllowed')).toBeUndefined();
  });

  it("is Ready with the sidecar's group (the default, which owns the socket) and with 61338 when the chart's tools UID is another", async () => {
    await apply(documents(agentSandbox('sidecar-group', ['openai'], { socket: { group: SIDECAR_UID } }), agentSandbox('default-tools-group', ['openai'], { socket: { group: DEFAULT_TOOLS_UID } })));
    await expect.poll(() => condition('sidecar-group', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
    await expect.poll(() => condition('default-tools-group', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
    expect(await condition('default-tools-group', 'SocketGroupAllowed')).toBeUndefined();
  });
});
