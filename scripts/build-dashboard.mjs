// Builds the dashboard page into dist/dashboard: app.js (src/dashboard/client/main.ts bundled
// with esbuild, the world map data included, so the page works offline), app.css, index.html and
// favicon.svg copied from src/dashboard/page. The coordinator serves this directory at /.
// `node scripts/build-dashboard.mjs [outDir]`.
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';
import { build } from 'esbuild';
import { zodEnglishOnly } from './esbuild-zod-english-only.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = process.argv[2] ?? `${root}dist/dashboard`;
const pageDir = `${root}src/dashboard/page`;

mkdirSync(outDir, { recursive: true });
await build({
  entryPoints: [`${root}src/dashboard/client/main.ts`],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  outfile: `${outDir}/app.js`,
  plugins: [zodEnglishOnly],
  logLevel: 'warning',
});
for (const file of ['index.html', 'app.css', 'favicon.svg'])
  copyFileSync(`${pageDir}/${file}`, `${outDir}/${file}`);
