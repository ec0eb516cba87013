/**
 * The "each name once" check, written once: config files (checks, sites, tokens) and wire
 * messages (a drain's overrides) refuse a name given twice, pointing at the second one.
 */

/** Every item whose key an earlier item already had, with its index. */
export function repeats<T>(items: readonly T[], key: (item: T) => string): { index: number; key: string }[] {
  const seen = new Set<string>();
  const found: { index: number; key: string }[] = [];
  items.forEach((item, index) => {
    const value = key(item);
    if (seen.has(value)) found.push({ index, key: value });
    seen.add(value);
  });
  return found;
}
