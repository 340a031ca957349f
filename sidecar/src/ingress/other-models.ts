/**
 * Request fields that have the provider answer with another model than the one the request
 * names: a router's or a proxy's fallback list (OpenRouter's `models` and `route`, LiteLLM's
 * `fallbacks` and `user_config`), Anthropic's server-side fallback on a refusal (`fallbacks` with
 * the `server-side-fallback-*` beta). The sidecar resolves, allows (`models.allow`) and prices a
 * call by the model it names, and such a call passed through would be answered and billed by a
 * model the sandbox may not serve, at that model's price while the sidecar counts the named one's
 * (OpenRouter bills the model that answered: o1-pro behind gpt-4o-mini is 1,000 times the
 * price). So they are refused, in the client's API, before any provider sees the request; a
 * fallback is the sidecar's own, between the providers of one model.
 */
import { AdapterError } from '../providers/types.js';

/** The fields refused, each with whose it is, for the message. */
const FIELDS: Record<string, string> = {
  models: "OpenRouter's fallback models",
  route: "OpenRouter's routing among fallback models",
  fallbacks: "Anthropic's server-side fallback models, or an OpenRouter or LiteLLM fallback list",
  context_window_fallbacks: "LiteLLM's fallback models on a context window error",
  content_policy_fallbacks: "LiteLLM's fallback models on a content policy error",
  context_window_fallback_dict: "LiteLLM's fallback models on a context window error",
  user_config: "LiteLLM's per-request model list",
};

/** The beta that turns on Anthropic's server-side fallback, by its name's prefix. */
const FALLBACK_BETA = 'server-side-fallback';

/**
 * Throws the refusal of a request (`body` as parsed, `headers` as sent) that asks its provider
 * for other models than `model`.
 * @throws {AdapterError} a 400 naming the field or the beta.
 */
export function refuseOtherModels(body: object, model: string, headers: Record<string, string | string[] | undefined>): void {
  const fields = body as Record<string, unknown>;
  for (const [field, what] of Object.entries(FIELDS)) {
    if (fields[field] != null) throw refusal(field, what, model);
  }
  const betas = [headers['anthropic-beta'] ?? []].flat().flatMap((value) => value.split(','));
  const beta = betas.find((name) => name.trim().toLowerCase().startsWith(FALLBACK_BETA));
  if (beta) throw refusal('anthropic-beta', `the beta ${beta.trim()}, Anthropic's server-side fallback`, model);
}

function refusal(param: string, what: string, model: string): AdapterError {
  const message = `${param} (${what}) would have the provider answer with another model than '${model}', which the sandbox neither allows nor prices: call each model by its own name`;
  return new AdapterError({ status: 400, type: 'invalid_request_error', message, param, code: 'other_models_not_allowed' });
}
