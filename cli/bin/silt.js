#!/usr/bin/env node
/**
 * The `silt` command. In a checkout after `npm install`, the TypeScript sources run through swc (a
 * dev dependency), so the command is never older than the code; without swc (an install without
 * dev dependencies), the CLI that `npm run build` put in dist/.
 */
const path = require('node:path');

let sources = true;
try {
  require.resolve('@swc/core');
} catch {
  sources = false;
}
if (sources) {
  require('../../test/support/ts-register.js');
  require('../src/main.ts').main(process.argv.slice(2));
} else {
  require(path.join(__dirname, '..', '..', 'dist', 'cli', 'src', 'main.js')).main(process.argv.slice(2));
}
