// An esbuild plugin shared by the CLI and dashboard builds.
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * zod re-exports every locale as `z.locales` (≈200 kB the page never uses): keep English only.
 * zod registers English itself; nothing in herald calls z.locales.
 */
export const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(builder) {
    builder.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes('/node_modules/zod/')
        ? { path: 'zod-locales', namespace: 'zod-locales' }
        : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: 'zod-locales' }, () => ({
      contents: `export { default as en } from ${JSON.stringify(`${root}node_modules/zod/v4/locales/en.js`)};`,
      loader: 'js',
      resolveDir: root,
    }));
  },
};
