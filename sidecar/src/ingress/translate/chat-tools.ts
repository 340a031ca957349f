/**
 * The tools of a chat request as a client sends them, made canonical for the providers that are
 * not OpenAI (OpenAI gets the client's bytes):
 * - `tool_choice: allowed_tools` (the model may call only the named tools of `tools`; the client
 *   keeps one long tool list so its prompt cache holds) becomes those tools alone and the mode
 *   (`auto` or `required`) as the choice: what the model may do is the same.
 * - custom tools (free-form input) and a custom tool choice have no equivalent elsewhere: a call
 *   another provider would serve is refused with a 400 naming them.
 * The Responses API's `allowed_tools` choice is narrowed by the same rule (ingress/translate/
 * responses.ts).
 */
import { providerError } from '../../providers/shared/errors.js';
import { TranslationError } from '../../providers/types.js';
import type { ChatIngressRequest, ChatRequest, Tool } from '../../wire/openai.js';

/** The canonical request, and the refusal for a provider other than OpenAI when it has something only OpenAI serves. */
export function canonicalChat(body: ChatIngressRequest): { request: ChatRequest; refusal?: TranslationError } {
  const choice = body.tool_choice;
  const custom = body.tools?.findIndex((tool) => tool.type === 'custom') ?? -1;
  const special = typeof choice === 'object' && choice !== null && choice.type !== 'function' ? choice : undefined;
  // Nearly every request: nothing to change, nothing copied.
  if (custom < 0 && !special) return { request: body as ChatRequest };
  const functions = body.tools?.filter((tool): tool is Tool => tool.type === 'function');
  if (special?.type === 'allowed_tools') {
    const allowed = special.allowed_tools;
    const request = { ...body, tools: functions, tool_choice: allowed.mode };
    try {
      request.tools = allowedOnly(functions ?? [], allowed.tools.map((t) => t.function?.name ?? t.custom?.name ?? ''), (t) => t.function.name);
    } catch (err) {
      // OpenAI judges its own; the refusal is for the others.
      return { request, refusal: err as TranslationError };
    }
    return { request, refusal: custom >= 0 ? openAIOnly('custom tools', `tools[${custom}]`) : undefined };
  }
  const refusal = custom >= 0 ? openAIOnly('custom tools', `tools[${custom}]`) : openAIOnly('a custom tool_choice', 'tool_choice');
  return { request: { ...body, tools: functions, tool_choice: special ? undefined : (choice as ChatRequest['tool_choice']) }, refusal };
}

/**
 * The tools of `tools` that `names` allows, in their order.
 * @throws {TranslationError} a 400 when it allows none: the model could not call a tool, which
 *   `required` asks it to, and `auto` would answer as if no tool were allowed at all
 */
export function allowedOnly<T>(tools: T[], names: string[], nameOf: (tool: T) => string): T[] {
  const allowed = new Set(names);
  const kept = tools.filter((tool) => allowed.has(nameOf(tool)));
  if (kept.length === 0) throw new TranslationError(providerError(400, `tool_choice allowed_tools names no tool of 'tools' (${[...allowed].join(', ') || 'none'})`, 'invalid_request_error', 'tool_choice'));
  return kept;
}

/** What only an OpenAI provider can serve, refused for any other (400, naming the field). */
export function openAIOnly(what: string, param: string): TranslationError {
  return new TranslationError(providerError(400, `${what} can only be served by an OpenAI provider`, 'unsupported_for_provider', param));
}
