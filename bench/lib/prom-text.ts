/**
 * Reads counters from a Prometheus text exposition (etcd's and herald's /metrics). Pure.
 */

/** The sum of every sample of metric `name` (all label sets), or undefined when absent. */
export function promCounter(text: string, name: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    // `name 12` or `name{label="x"} 12`, never a longer name such as `name_bucket`.
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    const value = Number(rest.slice(rest.lastIndexOf(rest.startsWith('{') ? '}' : ' ') + 1).trim());
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}
