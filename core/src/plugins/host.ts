/**
 * Loads the plugins of one service — the built-ins its config sections turn on, then the
 * configured list in order — and runs their hooks: request hooks and routes on the service's
 * fastify app, push and query hooks in plugin order, reloads on SIGHUP, and closes on stop.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { PluginConfig } from '../config';
import { ConfigError, SiltError } from '../errors';
import type { PluginContext, PluginInstance, PushSize, PushStreamView, QueryView, SiltPlugin, TenancySettings } from './types';

const NAME_RE = /^[a-z][a-z0-9-]{0,63}$/;

interface Loaded {
  name: string;
  instance: PluginInstance;
}

/** A module's plugin: its `default` export or the module itself; checked to have the contract's shape. */
function pluginOfModule(mod: unknown, where: string): SiltPlugin {
  const m = (mod as { default?: unknown })?.default ?? mod;
  const p = m as Partial<SiltPlugin>;
  if (p === null || typeof p !== 'object' || typeof p.name !== 'string' || typeof p.create !== 'function') {
    throw new ConfigError(`${where}: the module does not export a plugin ({name, create(options, context)})`, { key: where });
  }
  if (!NAME_RE.test(p.name)) throw new ConfigError(`${where}: plugin name "${p.name}" must match ${NAME_RE.source}`, { key: where });
  return p as SiltPlugin;
}

function requireModule(file: string, where: string): unknown {
  try {
    return createRequire(__filename)(path.resolve(file)) as unknown;
  } catch (err) {
    throw new ConfigError(`${where}: cannot load ${file}: ${(err as Error).message}`, { key: where });
  }
}

function instantiate(plugin: SiltPlugin, raw: Record<string, unknown>, ctx: Omit<PluginContext, 'id'>, where: string): PluginInstance {
  let options: unknown = raw;
  if (plugin.options) {
    try {
      options = plugin.options(raw);
    } catch (err) {
      throw new ConfigError(`${where}.options: ${(err as Error).message}`, { key: `${where}.options` });
    }
  }
  return plugin.create(options as Record<string, unknown>, { ...ctx, id: where });
}

/** The plugins of one service instance. */
export class PluginHost {
  private readonly loaded: Loaded[] = [];

  /**
   * Creates `first` (the built-ins the service always runs, in order), then each of `configured`:
   * a built-in of `named` by name, or a module by path. Throws ConfigError naming the bad entry.
   */
  constructor(ctx: Omit<PluginContext, 'id'>, first: readonly SiltPlugin[], named: ReadonlyMap<string, SiltPlugin>, configured: readonly PluginConfig[]) {
    for (const plugin of first) if (this.runsIn(plugin, ctx)) this.loaded.push({ name: plugin.name, instance: instantiate(plugin, {}, ctx, plugin.name) });
    configured.forEach((entry, i) => {
      const where = `plugins[${i}]`;
      let plugin: SiltPlugin;
      if (entry.name !== undefined) {
        const builtin = named.get(entry.name);
        if (builtin === undefined) throw new ConfigError(`${where}.name: no built-in plugin "${entry.name}" (built-in: ${[...named.keys()].join(', ')})`, { key: `${where}.name` });
        plugin = builtin;
      } else {
        plugin = pluginOfModule(requireModule(entry.path!, where), where);
      }
      if (this.runsIn(plugin, ctx)) this.loaded.push({ name: plugin.name, instance: instantiate(plugin, entry.options ?? {}, ctx, where) });
    });
  }

  private runsIn(plugin: SiltPlugin, ctx: Omit<PluginContext, 'id'>): boolean {
    return plugin.services === undefined || plugin.services.includes(ctx.service);
  }

  /** Names of the loaded plugins, in order. */
  get names(): string[] {
    return this.loaded.map((l) => l.name);
  }

  /** Adds every plugin's request hooks to `app`, then registers each one's routes in a scope of its own. */
  install(app: FastifyInstance): void {
    for (const { instance } of this.loaded) instance.hooks?.(app);
    for (const { instance } of this.loaded) {
      const routes = instance.routes?.bind(instance);
      if (routes) void app.register(async (scope) => routes(scope));
    }
  }

  /** Runs every `beforePush`; the first to throw refuses the push before its body is read. */
  beforePush(tenant: string): void {
    for (const { instance } of this.loaded) instance.beforePush?.(tenant);
  }

  /** Runs every `admitPush`; the first to throw refuses the push. */
  admitPush(tenant: string, size: PushSize): void {
    for (const { instance } of this.loaded) instance.admitPush?.(tenant, size);
  }

  /** True when some `onPush` applies to `tenant`, so its pushes must be unpacked for the hooks. */
  hasPushHooks(tenant: string): boolean {
    return this.loaded.some(({ instance }) => instance.onPush !== undefined && (instance.appliesTo?.(tenant) ?? true));
  }

  /** The push's streams after every applicable `onPush`, in order. */
  async onPush(tenant: string, streams: PushStreamView[]): Promise<PushStreamView[]> {
    let current = streams;
    for (const { name, instance } of this.loaded) {
      if (instance.onPush === undefined || !(instance.appliesTo?.(tenant) ?? true)) continue;
      const out = await this.guard(name, () => instance.onPush!(tenant, current));
      if (Array.isArray(out)) current = out;
    }
    return current;
  }

  /** True when some `onQuery` applies to `tenant`. */
  hasQueryHooks(tenant: string): boolean {
    return this.loaded.some(({ instance }) => instance.onQuery !== undefined && (instance.appliesTo?.(tenant) ?? true));
  }

  /** The query text after every applicable `onQuery`, in order. */
  async onQuery(tenant: string, view: QueryView): Promise<string> {
    let text = view.query;
    for (const { name, instance } of this.loaded) {
      if (instance.onQuery === undefined || !(instance.appliesTo?.(tenant) ?? true)) continue;
      const out = await this.guard(name, () => instance.onQuery!(tenant, { route: view.route, query: text }));
      if (typeof out === 'string') text = out;
    }
    return text;
  }

  /** Hands the re-read configuration to every plugin. */
  reload(config: Readonly<TenancySettings>): void {
    for (const { instance } of this.loaded) instance.reload?.(config);
  }

  /** Closes every plugin, last first. */
  async close(): Promise<void> {
    for (const { instance } of [...this.loaded].reverse()) await instance.close?.();
  }

  /** A plugin's own error (not a SiltError) is the plugin's bug: it names the plugin instead of leaking as a bare 500. */
  private async guard<T>(name: string, run: () => T | Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof SiltError) throw err;
      throw new SiltError('SILT_PLUGIN_FAILED', 500, false, `plugin ${name} failed: ${(err as Error)?.message ?? String(err)}`);
    }
  }
}
