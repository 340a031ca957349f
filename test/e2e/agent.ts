/**
 * The agent of the e2e test and the demo: what runs in the agent container. It knows nothing but
 * its environment (AIRLOCK_SOCKET, set by the webhook) and uses the official OpenAI SDK and the
 * MCP SDK client through the socket, the way agent code is written for Airlock.
 *
 * It reads one JSON command per line on stdin and answers one JSON line on stdout, so a test
 * can drive one long-lived agent through a config change:
 *   {"op":"models"}                                   -> {"ok":true,"models":[...]}
 *   {"op":"chat","model":"fast","content":"hi"}       -> {"ok":true,"model":"...","content":"..."}
 *   {"op":"tools"}                                    -> {"ok":true,"tools":[...]}
 *   {"op":"call","name":"everything__echo","arguments":{...}} -> {"ok":true,"text":"..."}
 *   {"op":"agent","model":"fast","prompt":"...","tools":["everything__echo"]}
 *        a tool loop: the model picks tools, the agent calls them over MCP, until a final answer
 *   {"op":"look","paths":["/etc/airlock/credentials"]} -> which paths exist, and which env names are set
 * Failures answer {"ok":false,"status":404,"error":"..."}.
 */
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { Agent, fetch as undiciFetch } from 'undici';

const socketPath = process.env.AIRLOCK_SOCKET;
if (!socketPath) {
  console.error('agent: AIRLOCK_SOCKET is not set; the Airlock webhook sets it in every app container');
  process.exit(2);
}

// Every request goes to the Unix socket; the host in the URL is only a name.
const dispatcher = new Agent({ connect: { socketPath } });
const throughSocket = ((url: string, init?: Parameters<typeof undiciFetch>[1]) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof fetch;
const openai = new OpenAI({ apiKey: 'not-needed-the-sidecar-holds-the-keys', baseURL: 'http://airlock/v1', fetch: throughSocket, maxRetries: 0 });

let mcp: Client | undefined;
async function tools(): Promise<Client> {
  if (!mcp) {
    const client = new Client({ name: 'airlock-e2e-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL('http://airlock/mcp'), { fetch: throughSocket }));
    mcp = client;
  }
  return mcp;
}

const textOf = (content: unknown): string =>
  (Array.isArray(content) ? content : [])
    .map((part: { type?: string; text?: string }) => (part.type === 'text' ? (part.text ?? '') : `[${part.type}]`))
    .join('\n');

type Command = { op: string; [key: string]: unknown };

async function handle(command: Command): Promise<Record<string, unknown>> {
  switch (command.op) {
    case 'models':
      return { models: (await openai.models.list()).data.map((m) => m.id) };
    case 'chat': {
      const completion = await openai.chat.completions.create({
        model: String(command.model),
        messages: [{ role: 'user', content: String(command.content) }],
        ...(command.maxTokens ? { max_tokens: Number(command.maxTokens) } : {}),
      });
      return { model: completion.model, content: completion.choices[0]?.message.content ?? '' };
    }
    case 'tools':
      return { tools: (await (await tools()).listTools()).tools.map((t) => t.name) };
    case 'call': {
      const result = await (await tools()).callTool({ name: String(command.name), arguments: (command.arguments ?? {}) as Record<string, unknown> });
      return { text: textOf(result.content), isError: result.isError ?? false };
    }
    case 'agent':
      return agentLoop(String(command.model), String(command.prompt), (command.tools as string[] | undefined) ?? []);
    case 'look':
      return {
        exists: Object.fromEntries(((command.paths as string[]) ?? []).map((path) => [path, existsSync(path)])),
        env: Object.keys(process.env).sort(),
      };
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

/** The classic loop: offer the MCP tools as functions, run the calls the model makes, until it answers. */
async function agentLoop(model: string, prompt: string, only: string[]): Promise<Record<string, unknown>> {
  const client = await tools();
  const listed = (await client.listTools()).tools.filter((t) => only.length === 0 || only.includes(t.name));
  const functions: ChatCompletionTool[] = listed.map((t) => ({
    type: 'function',
    function: { name: t.name, description: t.description ?? '', parameters: t.inputSchema as Record<string, unknown> },
  }));
  const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: prompt }];
  const steps: { tool: string; arguments: unknown; result: string }[] = [];
  for (let turn = 0; turn < 5; turn += 1) {
    const completion = await openai.chat.completions.create({ model, messages, tools: functions });
    const message = completion.choices[0]!.message;
    const calls = (message.tool_calls ?? []).filter((call) => call.type === 'function');
    if (calls.length === 0) return { content: message.content ?? '', steps };
    messages.push(message);
    for (const call of calls) {
      const args = JSON.parse(call.function.arguments || '{}') as Record<string, unknown>;
      const result = await client.callTool({ name: call.function.name, arguments: args });
      const text = textOf(result.content);
      steps.push({ tool: call.function.name, arguments: args, result: text });
      messages.push({ role: 'tool', tool_call_id: call.id, content: text });
    }
  }
  return { content: '(no final answer after 5 turns)', steps };
}

// PID 1 of its container: without a handler SIGTERM would be ignored until the kubelet's SIGKILL.
process.once('SIGTERM', () => process.exit(0));

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer: Record<string, unknown>;
  try {
    answer = { ok: true, ...(await handle(JSON.parse(line) as Command)) };
  } catch (error) {
    const status = (error as { status?: number }).status;
    answer = { ok: false, ...(status !== undefined ? { status } : {}), error: (error as Error).message };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
await mcp?.close();
await dispatcher.close();
