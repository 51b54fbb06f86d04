#!/usr/bin/env node
/** The `silt` command: the built CLI from dist/ when `npm run build` made one, else the TypeScript sources through swc (a checkout after `npm install`). */
const fs = require('node:fs');
const path = require('node:path');

const built = path.join(__dirname, '..', '..', 'dist', 'cli', 'src', 'main.js');
if (fs.existsSync(built)) {
  require(built).main(process.argv.slice(2));
} else {
  require('../../test/support/ts-register.js');
  require('../src/main.ts').main(process.argv.slice(2));
}
