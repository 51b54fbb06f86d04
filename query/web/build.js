/**
 * Builds the explorer (query/web/src) into one script and one stylesheet with esbuild, and the page
 * that loads them: `node query/web/build.js [outDir]` (default dist/web). The query service serves
 * that folder at `/` (query.webDir). No request leaves the page: every asset is in the bundle.
 */
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

/** Builds into `outDir`; resolves once the files are written. */
async function buildExplorer(outDir) {
  fs.mkdirSync(path.join(outDir, 'assets'), { recursive: true });
  await esbuild.build({
    entryPoints: { app: path.join(__dirname, 'src', 'main.tsx') },
    bundle: true,
    minify: true,
    sourcemap: true,
    format: 'iife',
    target: ['es2022'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: path.join(outDir, 'assets'),
    logLevel: 'warning',
    // core's write-token codec reaches Buffer only when a push is merged: the explorer never pushes.
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  fs.writeFileSync(
    path.join(outDir, 'index.html'),
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Silt explorer</title>
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<div id="app"></div>
<script src="/assets/app.js"></script>
</body>
</html>
`,
  );
}

module.exports = { buildExplorer };

if (require.main === module) {
  buildExplorer(path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..', 'dist', 'web'))).catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
}
