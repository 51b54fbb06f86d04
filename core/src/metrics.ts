/** Prometheus metrics: one registry per service instance, names prefixed `silt_<service>_`. */
import { Registry, collectDefaultMetrics } from 'prom-client';

/** A fresh registry with the process metrics (memory, CPU, event loop lag) under the service's prefix. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: `silt_${service}_` });
  return registry;
}
