/**
 * The span of one MCP tool call through the gateway: `execute_tool <tool>` following the GenAI
 * conventions (`gen_ai.tool.name`, the backend). It carries neither the arguments nor the
 * result. (The gateway counts and audits the call itself, in `toolCalled`.)
 */
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { agentLinks, tracer } from './model-call.js';

/** One tool call's span; end it exactly once with how the call ended. */
export interface ToolSpan {
  end(outcome: string): void;
  /** Runs `fn` with this span as the active one, so spans it starts (a built-in tool's model calls) are its children. */
  within<T>(fn: () => T): T;
}

/** Starts the span of a call of `tool` (its exposed name, as listed) on `backend`. */
export function startToolSpan(call: { backend: string; tool: string }): ToolSpan {
  const span = tracer().startSpan(`execute_tool ${call.tool}`, {
    kind: SpanKind.INTERNAL,
    attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': call.tool, 'gen_ai.tool.type': 'extension', 'airlock.mcp.backend': call.backend },
    links: agentLinks(context.active()),
  });
  let ended = false;
  return {
    within: (fn) => context.with(trace.setSpan(context.active(), span), fn),
    end(outcome) {
      if (ended) return;
      ended = true;
      span.setAttribute('airlock.mcp.outcome', outcome);
      if (outcome !== 'ok') {
        span.setAttribute('error.type', outcome);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    },
  };
}
