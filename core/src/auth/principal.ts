/**
 * Who a request acts as once auth let it in: the key it presented (with that key's tenants) and the
 * tenant a Basic user name asked for. `tenantOf` (core/src/http) picks the request's tenant from it.
 */
import type { FastifyRequest } from 'fastify';
import { ForbiddenError } from '../errors';
import type { KnownKey } from './key-ring';

/** An authenticated request's key and the tenant its Basic user name named. */
export interface Principal {
  key: KnownKey;
  basicUser?: string;
}

const PRINCIPAL = Symbol('silt.principal');

type WithPrincipal = FastifyRequest & { [PRINCIPAL]?: Principal };

/** Records the principal auth found for `request`. */
export function setPrincipal(request: FastifyRequest, principal: Principal): void {
  (request as WithPrincipal)[PRINCIPAL] = principal;
}

/** The request's principal; undefined when auth is off (or the route is open). */
export function principalOf(request: FastifyRequest): Principal | undefined {
  return (request as WithPrincipal)[PRINCIPAL];
}

/**
 * The tenant a principal acts for: the one `X-Scope-OrgID` names, else the Basic user name, else
 * the key's first tenant (`default` for a key of every tenant). The choice must be among the key's
 * tenants — a header may select, never widen.
 */
export function principalTenant(p: Principal, header: string | undefined): string {
  const wanted = header ?? p.basicUser ?? p.key.tenants[0] ?? 'default';
  if (p.key.anyTenant || p.key.tenants.includes(wanted)) return wanted;
  throw new ForbiddenError('SILT_TENANT_FORBIDDEN', `API key "${p.key.name}" may not act for tenant "${wanted}"`, { tenant: wanted });
}
