/** How a flap hold-down reads in the CLI, the lab and the dashboard. Pure, no imports (the page bundles it). */

/** "held down for flapping for another 42 s (3 flaps)": one phrase for the CLI and the lab. */
export function holdDownPhrase(remainingMs: number, flaps: number): string {
  const seconds = Math.max(1, Math.ceil(remainingMs / 1000));
  return `held down for flapping for another ${seconds} s (${flaps} flap${flaps === 1 ? '' : 's'})`;
}
