// Bundles the `herald` command (src/cli.ts and everything it imports) into dist/bin/herald.js,
// with one chunk per lazily loaded part (the coordinator, the lab, ...), so that `herald drain`
// and the agent under ExaBGP load a few files instead of hundreds of modules: a faster start
// for every CLI call and less memory for the agent (bench/README.md has the numbers).
// Identifiers are kept so stack traces stay readable. better-sqlite3 is native and stays in
// node_modules; so does etcd3 (it loads its .proto files next to itself at run time).
// Next to the bundle, `<outDir>.modules.json` lists the source files and packages in each output
// file (not shipped: package.json's "files" names dist/bin only), so a test can tell which
// modules a command line loaded (test/e2e/cli-start-modules.test.ts).
// `node scripts/build-cli.mjs [outDir]`.
import { rmSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath, URL } from 'node:url';
import { build } from 'esbuild';
import { zodEnglishOnly } from './esbuild-zod-english-only.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = resolve(process.argv[2] ?? `${root}dist/bin`);

rmSync(outDir, { recursive: true, force: true });
const result = await build({
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
  metafile: true,
  absWorkingDir: root, // so the module list names src/... and node_modules/... wherever this runs from
});

/** Output file (relative to outDir) → the inputs bundled into it, e.g. src/cli/main.ts, node_modules/zod/... */
const modules = {};
for (const [output, { inputs }] of Object.entries(result.metafile.outputs))
  modules[relative(outDir, resolve(root, output))] = Object.keys(inputs).sort();
writeFileSync(`${outDir.replace(/\/+$/, '')}.modules.json`, JSON.stringify(modules, null, 1) + '\n');
