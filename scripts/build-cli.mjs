// Bundles the `herald` command (src/cli.ts and everything it imports) into dist/bin/herald.js,
// with one chunk per lazily loaded part (the coordinator, the lab, ...), so that `herald drain`
// and the agent under ExaBGP load a few files instead of hundreds of modules: a faster start
// for every CLI call and less memory for the agent (bench/README.md has the numbers).
// Identifiers are kept so stack traces stay readable. better-sqlite3 is native and stays in
// node_modules; so does etcd3 (it loads its .proto files next to itself at run time).
// `node scripts/build-cli.mjs [outDir]`.
import { rmSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';
import { build } from 'esbuild';
import { zodEnglishOnly } from './esbuild-zod-english-only.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = process.argv[2] ?? `${root}dist/bin`;

rmSync(outDir, { recursive: true, force: true });
await build({
  entryPoints: { herald: `${root}src/cli.ts` },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  external: ['better-sqlite3', 'etcd3'],
  // Bundled CommonJS packages (commander, pino, yaml) call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __heraldRequire } from 'node:module'; const require = __heraldRequire(import.meta.url);",
  },
  outdir: outDir,
  chunkNames: 'chunks/[name]-[hash]',
  legalComments: 'none',
  plugins: [zodEnglishOnly],
  logLevel: 'warning',
});
