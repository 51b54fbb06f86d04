/**
 * The built-in `auth` plugin: when `auth.enabled`, every request but the open ones (health,
 * readiness, metrics, build info) must present an API key, checked before its body is read. A key
 * in ingest needs scope `push`, in query scope `query` (`admin` grants both); `X-Scope-OrgID` then
 * selects among the key's tenants. `/internal/` routes (the storage nodes' API, the query service's
 * directory) take the cluster secret as a Bearer token, or an `admin` key. With `auth.clusterSecret`
 * set, the storage nodes refuse internal calls without it even while API keys are off.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthConfig, Scope } from '../../config/tenancy';
import { ForbiddenError, UnauthorizedError } from '../../errors';
import { tenantOf } from '../../http';
import { credentialsOf, KeyRing, secretEquals } from '../../auth/key-ring';
import { setPrincipal } from '../../auth/principal';
import type { PluginContext, PluginInstance, ServiceName, SiltPlugin } from '../types';
import { isOpenPath, pathOf } from './open-paths';

const INTERNAL_PREFIX = '/internal/';

/** The scope a service's public routes need. */
const SERVICE_SCOPE: Readonly<Record<ServiceName, Scope>> = { ingest: 'push', query: 'query', storage: 'admin' };

/** Auth of one service instance; `reload` swaps the keys without touching connections. */
class Auth implements PluginInstance {
  private config: AuthConfig;
  private ring: KeyRing;

  constructor(private readonly service: ServiceName, config: AuthConfig) {
    this.config = config;
    this.ring = new KeyRing(config.keys);
  }

  hooks(app: FastifyInstance): void {
    app.addHook('onRequest', async (request) => this.check(request));
  }

  reload(config: { auth: AuthConfig }): void {
    this.ring = new KeyRing(config.auth.keys);
    this.config = config.auth;
  }

  private check(request: FastifyRequest): void {
    const path = pathOf(request);
    if (isOpenPath(path)) return;
    const internal = path.startsWith(INTERNAL_PREFIX);
    const { enabled, clusterSecret } = this.config;
    if (!enabled && !(internal && clusterSecret !== '' && this.service === 'storage')) return;
    const credentials = credentialsOf(request.headers);
    if (internal && clusterSecret !== '' && credentials !== undefined && credentials.basicUser === undefined && secretEquals(credentials.key, clusterSecret)) return;
    if (!enabled) throw new UnauthorizedError(`${path} needs the cluster secret (Authorization: Bearer <auth.clusterSecret>)`);
    if (credentials === undefined) throw new UnauthorizedError('this route needs an API key: Authorization: Bearer <key>, X-API-Key: <key>, or Basic auth with the tenant as user and the key as password');
    const key = this.ring.find(credentials.key);
    if (key === undefined) throw new UnauthorizedError('the API key presented is not valid');
    const needed: Scope = internal ? 'admin' : SERVICE_SCOPE[this.service];
    if (!key.scopes.has(needed) && !key.scopes.has('admin')) {
      throw new ForbiddenError('SILT_SCOPE_FORBIDDEN', `API key "${key.name}" lacks scope "${needed}" for ${path}`, { scope: needed });
    }
    setPrincipal(request, { key, ...(credentials.basicUser === undefined ? {} : { basicUser: credentials.basicUser }) });
    // The tenant is checked now, so a push for a tenant the key lacks is refused before its body is read.
    tenantOf(request);
  }
}

/** Creates the auth plugin from the service's `auth` section. */
export const authPlugin: SiltPlugin = {
  name: 'auth',
  create: (_options, ctx: PluginContext) => new Auth(ctx.service, ctx.config.auth),
};
