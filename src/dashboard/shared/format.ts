/**
 * How times, ages and durations read on the dashboard: "12 s ago", "4 min", "2 h 5 min",
 * "14:02:31". Pure so the page and the tests agree on every label.
 */

/** 1234 → "1 s", 75_000 → "1 min 15 s", 7_500_000 → "2 h 5 min", 3 days → "3 d 0 h". */
export function formatSpan(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`;
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** "12 s ago", or "never" when there is no time. */
export function formatAgo(at: number | null | undefined, now: number): string {
  if (at === null || at === undefined) return 'never';
  const delta = now - at;
  if (delta < -2000) return `in ${formatSpan(-delta)}`;
  return `${formatSpan(delta)} ago`;
}

/**
 * Like formatAgo, in 5-second steps under a minute ("10 s ago"): for long tables, whose 200
 * ages would otherwise all change every second. Staleness itself is shown as a state, not read
 * off this number.
 */
export function formatCoarseAgo(at: number | null | undefined, now: number): string {
  if (at === null || at === undefined || now - at >= 60_000 || now < at) return formatAgo(at, now);
  return `${Math.floor((now - at) / 5000) * 5} s ago`;
}

/** "in 4 min" or "5 min ago". */
export function formatRelative(at: number, now: number): string {
  return at >= now ? `in ${formatSpan(at - now)}` : `${formatSpan(now - at)} ago`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Local wall-clock time "14:02:31". */
export function formatClock(at: number): string {
  const d = new Date(at);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local date and time "2026-11-21 14:02". */
export function formatDateTime(at: number): string {
  const d = new Date(at);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Latency as people read it: "0.4 ms", "12 ms", "1.2 s". */
export function formatLatency(ms: number): string {
  if (ms < 1) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** "1 site" / "3 sites". */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
