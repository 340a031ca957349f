/**
 * Request fields that have the provider answer with another model than the one the request
 * names, or at another price than the sandbox's for it (see {@link refusePriceTier}): a router's
 * or a proxy's fallback list (OpenRouter's `models` and `route`, LiteLLM's `fallbacks` and
 * `user_config`), Anthropic's server-side fallback on a refusal (`fallbacks` with the
 * `server-side-fallback-*` beta). The sidecar resolves, allows (`models.allow`) and prices a
 * call by the model it names, and such a call passed through would be answered and billed by a
 * model the sandbox may not serve, at that model's price while the sidecar counts the named one's
 * (OpenRouter bills the model that answered: o1-pro behind gpt-4o-mini is 1,000 times the
 * price). So they are refused, in the client's API, before any provider sees the request; a
 * fallback is the sidecar's own, between the providers of one model.
 *
 * {@link refuseRequestFields} is the one check of them all, made by relayModelCall
 * (server/model-route.ts) for every model call of every ingress.
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
  preset: "OpenRouter's preset, which may hold fallback models",
};

/** FIELDS' names, listed once: every model call is checked, and a loop over pairs would make an iterator for each. */
const FIELD_NAMES = Object.keys(FIELDS);

/** The beta that turns on Anthropic's server-side fallback, by its name's prefix. */
const FALLBACK_BETA = 'server-side-fallback';

/** The betas of a request without the header: made once, as every model call is checked. */
const NO_BETAS: readonly string[] = [];

/**
 * Throws the refusal of a request (`body` as parsed, its top-level fields checked; `headers` as
 * sent) that asks its provider for other models than `model`, or for `model` at another price
 * than the sandbox counts for it ({@link refusePriceTier}). Every ingress's fields are checked
 * alike: a field of another API's name is no field of its own.
 * @throws {AdapterError} a 400 naming the field or the beta.
 */
export function refuseRequestFields(body: object, model: string, headers: Record<string, string | string[] | undefined>): void {
  const fields = body as Record<string, unknown>;
  for (const field of FIELD_NAMES) {
    if (asksFor(fields[field])) throw refusal(field, FIELDS[field]!, model);
  }
  const header = headers['anthropic-beta'];
  // Split only when sent: most calls carry no beta, and then the check allocates nothing.
  const betas = header === undefined ? NO_BETAS : [header].flat().flatMap((value) => value.split(','));
  const beta = betaNamed(betas, FALLBACK_BETA);
  if (beta) throw refusal('anthropic-beta', `the beta ${beta.trim()}, Anthropic's server-side fallback`, model);
  refusePriceTier(fields, betas, model);
}

/**
 * The first of `betas` whose name starts with `prefix`. An index loop, not `find` (a new callback
 * on every call) nor `for…of` (an iterator): every model call asks, most with no beta at all.
 */
function betaNamed(betas: readonly string[], prefix: string): string | undefined {
  for (let i = 0; i < betas.length; i++) {
    if (betas[i]!.trim().toLowerCase().startsWith(prefix)) return betas[i];
  }
  return undefined;
}

/** Whether a field's value asks for something: an empty list (OpenRouter's AI SDK provider sends `models: []`) does not. */
function asksFor(value: unknown): boolean {
  return value != null && !(Array.isArray(value) && value.length === 0);
}

/**
 * Service tiers the sandbox's prices hold for, in lower case without Gemini's `SERVICE_TIER_`
 * prefix: the project's own tier (OpenAI's `auto` and `default`, Anthropic's `auto` and
 * `standard_only`, Gemini's `standard` or none) and the cheaper `flex`. `priority` costs more per
 * token (OpenAI's, Gemini's), and OpenAI's `scale` is paid for apart: an agent choosing them would
 * spend at a price the sidecar does not count.
 */
const PRICED_TIERS = new Set(['auto', 'default', 'flex', 'standard', 'standard_only', 'unspecified']);

/** Anthropic's fast mode beta (`fast-mode-*`), which `speed: "fast"` needs: up to six times the price. */
const FAST_BETA = 'fast-mode';

/** The service tier's field: OpenAI's and Anthropic's, and Gemini's as its JSON names are read (snake_case is made camelCase first). */
const TIER_FIELDS = ['service_tier', 'serviceTier'];

/**
 * Throws the refusal of a request that picks a dearer way of serving the model than its price
 * in the config: OpenAI's `service_tier` `priority` or `scale`, Gemini's `serviceTier` priority,
 * Anthropic's `speed: "fast"` or its beta. The org's own default tier is the provider's to apply, and is priced by whoever
 * writes the ModelProvider's prices.
 * @throws {AdapterError} a 400 naming the field or the beta.
 */
function refusePriceTier(fields: Record<string, unknown>, betas: readonly string[], model: string): void {
  for (const field of TIER_FIELDS) {
    const tier = fields[field];
    if (tier != null && !(typeof tier === 'string' && PRICED_TIERS.has(tier.toLowerCase().replace(/^service_tier_/, '')))) {
      throw priceRefusal(field, `the ${String(tier)} service tier`, model);
    }
  }
  if (fields.speed != null && fields.speed !== 'standard') throw priceRefusal('speed', `speed ${JSON.stringify(fields.speed)}, Anthropic's fast mode`, model);
  const beta = betaNamed(betas, FAST_BETA);
  if (beta) throw priceRefusal('anthropic-beta', `the beta ${beta.trim()}, Anthropic's fast mode`, model);
}

function refusal(param: string, what: string, model: string): AdapterError {
  const message = `${param} (${what}) would have the provider answer with another model than '${model}', which the sandbox neither allows nor prices: call each model by its own name`;
  return new AdapterError({ status: 400, type: 'invalid_request_error', message, param, code: 'other_models_not_allowed' });
}

function priceRefusal(param: string, what: string, model: string): AdapterError {
  const message = `${param} (${what}) would have the provider serve '${model}' at another price than the sandbox counts for it: leave it out`;
  return new AdapterError({ status: 400, type: 'invalid_request_error', message, param, code: 'price_tier_not_allowed' });
}
