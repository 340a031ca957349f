/** What OpenAI's models take, told by their names. */

/**
 * Whether an OpenAI model reasons (takes `reasoning_effort`, `reasoning`, and encrypted reasoning
 * in `include`): the o-series, gpt-5 and later (their `-chat` models do not), codex models, and
 * fine-tunes of them (`ft:o4-mini-…:org::id`). Read from the model's name, as OpenAI names them;
 * every other model answers 400 `unsupported_parameter`.
 */
export function reasoningModel(model: string): boolean {
  const base = model.startsWith('ft:') ? model.slice(3) : model;
  return /^(o\d|gpt-[5-9]|codex)/.test(base) && !/-chat\b/.test(base);
}

/**
 * Whether a reasoning model takes the sampling fields (temperature, top_p, logprobs…) while it
 * does not reason: gpt-5.1 and later at `reasoning_effort: none`, which is their default. The
 * o-series and gpt-5 itself refuse them always.
 */
export function samplesWithoutReasoning(model: string): boolean {
  const base = model.startsWith('ft:') ? model.slice(3) : model;
  return /^gpt-(5\.[1-9]|[6-9])/.test(base);
}
