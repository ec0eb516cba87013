// Lists exports from src/ that no other file mentions (by name, in src/, test/, bench/ or
// scripts/): "unused" ones can go; "used inside" ones need no `export`. A text check, so it errs
// on the side of keeping: a name mentioned anywhere else (a comment, another symbol) counts as used.
// `node scripts/dead-exports.mjs [--unused]`; exits 1 when it finds an unused export.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const files = execFileSync('git', ['ls-files', 'src', 'test', 'bench', 'scripts'], { encoding: 'utf8' })
  .split('\n')
  .filter((file) => /\.(ts|mjs|js)$/.test(file));
const text = new Map(files.map((file) => [file, readFileSync(file, 'utf8')]));
const exported =
  /^export\s+(?:declare\s+)?(?:async\s+)?(?:const|let|function\*?|class|abstract class|type|interface|enum)\s+([A-Za-z_$][\w$]*)/gm;
const onlyUnused = process.argv.includes('--unused');
let unused = 0;
for (const [file, source] of text) {
  if (!file.startsWith('src/')) continue;
  for (const [, name] of source.matchAll(exported)) {
    const pattern = `\\b${name.replace(/\$/g, '\\$')}\\b`;
    const word = new RegExp(pattern);
    if ([...text].some(([other, otherSource]) => other !== file && word.test(otherSource))) continue;
    const inside = (source.match(new RegExp(pattern, 'g')) ?? []).length > 1;
    if (!inside) unused++;
    if (!inside || !onlyUnused) console.log(`${file}: ${name} (${inside ? 'used inside' : 'unused'})`);
  }
}
process.exitCode = unused ? 1 : 0;
