// Placeholder until the dashboard lands: bundles src/dashboard/client/main.ts when it exists.
import { existsSync } from 'node:fs';
if (existsSync('src/dashboard/client/main.ts')) {
  const { build } = await import('esbuild');
  await build({
    entryPoints: ['src/dashboard/client/main.ts'],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    outfile: 'dist/dashboard/app.js',
    logLevel: 'warning',
  });
}
