/**
 * How ExaBGP 4.2.21 picks the API command a line runs, reproduced so that herald can prove a line
 * it is about to write runs the command it means and nothing else.
 *
 * ExaBGP first normalises the line (`configuration/core/format.py: formated`), then walks its
 * registered command names in reverse alphabetical order and takes the first one that equals the
 * line, ends it after a space, or appears ANYWHERE in it followed by a space
 * (`reactor/api/__init__.py: API.text`). That substring match is why a community spelled
 * `graceful-shutdown` once shut ExaBGP down.
 */

/** `Command.functions` of ExaBGP 4.2.21, in the order ExaBGP tries them (reverse sorted). */
export const EXABGP_42_COMMANDS: readonly string[] = [
  'withdraw watchdog',
  'withdraw vpls',
  'withdraw route',
  'withdraw flow',
  'withdraw attributes',
  'version',
  'teardown',
  'shutdown',
  'show neighbor',
  'show adj-rib out',
  'show adj-rib in',
  'restart',
  'reset',
  'reload',
  'help',
  'flush adj-rib out',
  'crash',
  'clear adj-rib',
  'announce watchdog',
  'announce vpls',
  'announce route-refresh',
  'announce route',
  'announce operational',
  'announce flow',
  'announce eor',
  'announce attributes',
  'announce attribute',
  '#',
];

/** ExaBGP's `formated()`: trim, tabs to spaces, spaces around brackets and commas, single spaces. */
export function formatLikeExabgp(line: string): string {
  let text = line
    .trim()
    .replaceAll('\t', ' ')
    .replaceAll(']', ' ]')
    .replaceAll('[', '[ ')
    .replaceAll(')', ' )')
    .replaceAll('(', '( ')
    .replaceAll(',', ' , ');
  let previous = '';
  while (text !== previous) {
    previous = text;
    text = text.replaceAll('  ', ' ');
  }
  return text;
}

/** The command ExaBGP 4.2.21 would run for this line, or null when it would answer "error". */
export function exabgpDispatch(line: string): string | null {
  const command = formatLikeExabgp(line);
  for (const registered of EXABGP_42_COMMANDS) {
    if (
      registered === command ||
      command.endsWith(' ' + registered) ||
      command.includes(registered + ' ')
    )
      return registered;
  }
  return null;
}
