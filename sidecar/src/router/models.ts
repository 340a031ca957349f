/**
 * Model resolution: the name an agent asks for → the providers that serve it, in the order
 * they should be tried. Aliases map extra names to served models; `models.allow` limits which
 * names a sandbox may use at all.
 */
import { compileGlobs } from '../config/glob.js';
import { MAX_MODEL_NAME, type ModelEntryConfig as Model, type SidecarConfig } from '../config/schema.js';

/** A provider that serves the requested model, with the entry that matched. */
export interface Candidate<P> {
  provider: P;
  model: Model;
}


/** The model was not found or not allowed; the client gets 404 in its API's shape. */
export class ModelNotFoundError extends Error {
  constructor(readonly model: string) {
    // Repeats at most as much of the name as any served name can have: an agent's megabyte of
    // name is not copied back into the answer and whatever records it.
    super(`The model '${model.length > MAX_MODEL_NAME ? `${model.slice(0, MAX_MODEL_NAME)}…` : model}' does not exist or is not available in this sandbox`);
    this.name = 'ModelNotFoundError';
  }
}

export interface ProviderLike {
  config: { name: string; priority: number; weight: number; models: Model[] };
}

export class ModelCatalog<P extends ProviderLike> {
  private readonly allowed: (name: string) => boolean;
  private readonly byName = new Map<string, Candidate<P>[]>();

  constructor(
    private readonly config: SidecarConfig,
    providers: readonly P[],
  ) {
    const allow = config.models.allow;
    this.allowed = allow ? compileGlobs(allow) : () => true;
    for (const provider of providers) {
      for (const model of provider.config.models) {
        const list = this.byName.get(model.name) ?? [];
        list.push({ provider, model });
        this.byName.set(model.name, list);
      }
    }
  }

  /** Served name for a requested name (alias resolved), or undefined when unknown or not allowed. */
  resolveName(requested: string): string | undefined {
    const target = this.config.models.aliases[requested];
    if (target !== undefined) return this.byName.has(target) ? target : undefined;
    return this.byName.has(requested) && this.allowed(requested) ? requested : undefined;
  }

  /**
   * Candidates in failover order: ascending priority; within a priority a weighted random order,
   * so weights share the traffic while every provider of the tier stays a fallback.
   * @throws {ModelNotFoundError}
   */
  candidates(requested: string, random: () => number = Math.random): Candidate<P>[] {
    const name = this.resolveName(requested);
    const list = name === undefined ? undefined : this.byName.get(name);
    if (!list) throw new ModelNotFoundError(requested);
    // The common case, one provider: nothing to order.
    if (list.length === 1) return [list[0]!];
    const tiers = new Map<number, Candidate<P>[]>();
    for (const c of list) tiers.set(c.provider.config.priority, [...(tiers.get(c.provider.config.priority) ?? []), c]);
    return [...tiers.keys()].sort((a, b) => a - b).flatMap((p) => weightedShuffle(tiers.get(p)!, random));
  }

  /** Every model id the agent may request: allowed served names and aliases. */
  list(): { id: string; ownedBy: string }[] {
    const served = [...this.byName.entries()]
      .filter(([name]) => this.allowed(name))
      .map(([id, candidates]) => ({ id, ownedBy: candidates[0]!.provider.config.name }));
    const aliases = Object.entries(this.config.models.aliases)
      .filter(([, target]) => this.byName.has(target))
      .map(([id, target]) => ({ id, ownedBy: this.byName.get(target)![0]!.provider.config.name }));
    return [...served, ...aliases];
  }
}

/** Orders items by repeated weighted draws without replacement. */
function weightedShuffle<P extends ProviderLike>(items: Candidate<P>[], random: () => number): Candidate<P>[] {
  const pool = [...items];
  const out: Candidate<P>[] = [];
  while (pool.length > 1) {
    const total = pool.reduce((sum, c) => sum + c.provider.config.weight, 0);
    let draw = random() * total;
    const index = pool.findIndex((c) => (draw -= c.provider.config.weight) < 0);
    out.push(...pool.splice(index < 0 ? pool.length - 1 : index, 1));
  }
  return [...out, ...pool];
}
