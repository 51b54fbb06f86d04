/**
 * The plugin contract (docs/PLUGINS.md): a plugin is a module with a name, a validator of its
 * options, and a `create` that returns the hooks it implements. Built-in plugins (auth, limits,
 * the pipeline rules) and operators' modules load through the same loader, in the configured order.
 */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { BlockEntry } from '../block-format';
import type { SiltConfig } from '../config';
import type { Labels } from '../labels';
import type { Logger } from '../logger';

/** The service a plugin instance runs in; a plugin is created once in each. */
export type ServiceName = 'ingest' | 'query' | 'storage';

/** The sections of the configuration every plugin sees (and sees again on SIGHUP). */
export type TenancySettings = Pick<SiltConfig, 'auth' | 'limits' | 'cache'>;

/** What `create` is given. */
export interface PluginContext {
  service: ServiceName;
  /** Where the plugin was configured (`plugins[2]`, or a built-in's name): names its rules in metrics and errors. */
  id: string;
  config: Readonly<TenancySettings>;
  logger: Logger;
  /** The service's registry: a plugin's metrics are named `silt_<service>_plugin_<name>_…`. */
  registry: Registry;
  /**
   * An error for a hook to throw that the client gets as it is: `status` 4xx (or 503), a
   * `SILT_…` code, and for 429 and 503 the `Retry-After` seconds.
   */
  refuse(status: number, code: string, message: string, retryAfterSeconds?: number): Error;
  /** Ingest processes alive now (announced on the nodes topic), this one included; 1 outside ingest. */
  liveIngestProcesses(): number;
}

/** One stream of a push as `onPush` sees it: labels and entries, both the hook's to change. */
export interface PushStreamView {
  labels: Labels;
  entries: BlockEntry[];
}

/** A query as `onQuery` sees it: the route and the LogQL text (a query, a tail's query, or a series selector). */
export interface QueryView {
  route: string;
  query: string;
}

/** The size of one push, before any entry is looked at one by one. */
export interface PushSize {
  /** The push's streams (their labels; entries are not unpacked). */
  streams: readonly { labels: Labels }[];
  entries: number;
  /** UTF-8 bytes of the lines. */
  bytes: number;
}

/** The hooks a plugin may implement; each is optional. */
export interface PluginInstance {
  /** False for a tenant whose pushes and queries `onPush` and `onQuery` leave alone (they are then not called, and a push is not unpacked for them). */
  appliesTo?(tenant: string): boolean;
  /** The plugin's own routes, in a fastify scope of its own (hooks it adds there apply to those routes only). */
  routes?(scope: FastifyInstance): void;
  /** Hooks on every route of the service (`app.addHook`), run in plugin order before any route's handler. */
  hooks?(app: FastifyInstance): void;
  /** Ingest, before a push's body is decoded or parsed: throw a SiltError (a 429) to refuse it at once, for what it costs to refuse it later. */
  beforePush?(tenant: string): void;
  /** Ingest, first: the size of one push of `tenant`; throw a SiltError (a 429) to refuse it. Cheap: entries are not unpacked for it. */
  admitPush?(tenant: string, size: PushSize): void;
  /**
   * Ingest, before partitioning: the streams of one push of `tenant`. Change them in place or return
   * new ones; drop an entry by leaving it out. Throw a SiltError to refuse the whole push.
   */
  onPush?(tenant: string, streams: PushStreamView[]): PushStreamView[] | void | Promise<PushStreamView[] | void>;
  /** Query, before parsing: return a rewritten query text, nothing to keep it, or throw a SiltError to refuse it. */
  onQuery?(tenant: string, query: QueryView): string | void | Promise<string | void>;
  /** SIGHUP: the configuration was read again (limits and keys may have changed; the plugin list did not). */
  reload?(config: Readonly<TenancySettings>): void;
  /** The service stops. */
  close?(): void | Promise<void>;
}

/** A plugin module: what `require(path)` gives (or its `default`), and what each built-in is. */
export interface SiltPlugin<O = unknown> {
  /** `[a-z][a-z0-9-]*`; names its metrics and its log lines. */
  name: string;
  /** Services it runs in (default: all three). */
  services?: readonly ServiceName[];
  /** Checks raw options and returns them typed; throws an Error whose message names the bad option. */
  options?(raw: Record<string, unknown>): O;
  create(options: O, ctx: PluginContext): PluginInstance;
}
