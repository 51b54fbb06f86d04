'use strict';
/**
 * A worked example of a Silt plugin (docs/PLUGINS.md), loaded by test/e2e/plugins.test.ts as an
 * operator would load it: `"plugins": [{"path": "./stamp-plugin.js", "options": {"value": "eu-1"}}]`.
 *
 * In ingest it stamps every stream of a push with a label (so every stored line says where it came
 * in); in query it refuses query texts longer than a limit; in both it serves what it did on a route
 * of its own. It needs nothing from Silt but what `create` is given.
 */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

module.exports = {
  name: 'stamp',
  services: ['ingest', 'query'],

  /** Checks the raw options once, at start; a thrown message names the bad option. */
  options(raw) {
    const label = raw.label === undefined ? 'stamped_by' : raw.label;
    if (typeof label !== 'string' || !LABEL_NAME.test(label) || label.startsWith('__')) throw new Error('label: must be a label name');
    const value = raw.value === undefined ? 'stamp' : raw.value;
    if (typeof value !== 'string' || value === '') throw new Error('value: must be a non-empty string');
    const maxQueryLength = raw.maxQueryLength === undefined ? 4096 : raw.maxQueryLength;
    if (!Number.isInteger(maxQueryLength) || maxQueryLength < 1) throw new Error('maxQueryLength: must be a positive integer');
    return { label, value, maxQueryLength };
  },

  /** Called once per service process, with the checked options. */
  create(options, ctx) {
    let stamped = 0;
    let refused = 0;
    return {
      routes(scope) {
        scope.get('/plugins/stamp', async () => ({ service: ctx.service, label: options.label, value: options.value, stamped, refused }));
      },
      onPush(_tenant, streams) {
        for (const stream of streams) {
          stream.labels[options.label] = options.value;
          stamped += stream.entries.length;
        }
      },
      onQuery(_tenant, query) {
        if (query.query.length > options.maxQueryLength) {
          refused++;
          throw ctx.refuse(400, 'SILT_QUERY_TOO_LONG', `${query.route}: the query is ${query.query.length} characters, over this cluster's ${options.maxQueryLength}`);
        }
      },
    };
  },
};
