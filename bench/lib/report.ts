/**
 * Benchmark results: each run writes one JSON file to bench/results/ (the machine-readable
 * record), and bench/RESULTS.md (every run, one row each) and bench/SUMMARY.md (the latest full
 * run of each benchmark, ratios first) are rendered again from all of those files. Rendering is
 * pure so it is unit-tested; only writeResult() and renderFiles() touch the disk.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine, type MachineInfo } from './machine.js';

export const benchDir = fileURLToPath(new URL('..', import.meta.url));
export const resultsDir = join(benchDir, 'results');

export interface TargetCheck {
  /** What is measured, e.g. "killed proxy → withdrawn, median". */
  name: string;
  /** The target as written in the issue, e.g. "< 1000 ms". */
  target: string;
  /** The measured value as text, e.g. "812 ms". */
  value: string;
  /** null: no pass/fail (reported only, or not measured in this run). */
  met: boolean | null;
  /** Why it fell short, or what limits it. */
  note?: string;
}

/** One line of SUMMARY.md: herald next to the reference, the ratio first. */
export interface SummaryRow {
  metric: string;
  /** herald ÷ reference (lower is better unless said), as text; "" when there is no reference. */
  ratio: string;
  herald: string;
  reference: string;
  target: string;
  met: boolean | null;
}

export interface BenchResult {
  bench: string;
  title: string;
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  machine: MachineInfo;
  /** 1/5/15-minute load averages at start and end. */
  load: { start: number[]; end: number[] };
  params: Record<string, unknown>;
  /** Short "label: value" pairs for the RESULTS.md row, ratios first. */
  headline: [string, string][];
  targets: TargetCheck[];
  summary: SummaryRow[];
  notes: string[];
  data: unknown;
}

export const BENCH_ORDER = [
  'failover',
  'cost',
  'quiet',
  'drain',
  'scale',
  'continuity',
  'transport',
  'steady',
] as const;

export function resultFileName(result: Pick<BenchResult, 'bench' | 'startedAt' | 'quick'>): string {
  const stamp = result.startedAt.replace(/[:.]/g, '-');
  return `${result.bench}-${stamp}${result.quick ? '-quick' : ''}.json`;
}

export function writeResult(result: BenchResult, dir = resultsDir): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, resultFileName(result));
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  return file;
}

export function readResults(dir = resultsDir): { file: string; result: BenchResult }[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  // The agent-link and replicas benchmarks (run on their own, not by run.ts) write their own
  // records here too; they are summarised by hand in SUMMARY.md, so they are skipped.
  return names
    .sort()
    .map((name) => ({ file: name, result: JSON.parse(readFileSync(join(dir, name), 'utf8')) as unknown }))
    .filter((entry): entry is { file: string; result: BenchResult } => isRunResult(entry.result));
}

function isRunResult(value: unknown): value is BenchResult {
  const record = value as Partial<BenchResult> | null;
  return typeof record?.bench === 'string' && Array.isArray(record.targets) && Array.isArray(record.headline);
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function met(value: boolean | null): string {
  return value === null ? '–' : value ? 'yes' : '**no**';
}

function loadText(load: BenchResult['load']): string {
  return `${load.start[0] ?? '?'} → ${load.end[0] ?? '?'}`;
}

/** RESULTS.md: per benchmark, one row per run (newest first), then the targets of the newest full run. */
export function renderResults(entries: { file: string; result: BenchResult }[]): string {
  const lines: string[] = [
    '# herald benchmark results',
    '',
    'Rendered by `bench/run.ts` from the JSON files in `bench/results/` (one per run); do not edit by hand.',
    'Load is the 1-minute load average at the start → end of the run: the machine is shared, so a high',
    'load means noisier numbers. Ratios are herald ÷ reference measured side by side in the same run.',
    '',
  ];
  const benches = [...BENCH_ORDER, ...new Set(entries.map((e) => e.result.bench))].filter(
    (bench, index, all) => all.indexOf(bench) === index,
  );
  for (const bench of benches) {
    const runs = entries.filter((e) => e.result.bench === bench).reverse();
    if (!runs.length) continue;
    lines.push(`## ${runs[0]!.result.title}`, '');
    lines.push('| started (UTC) | commit | machine | load | mode | results | targets met | file |');
    lines.push('|---|---|---|---|---|---|---|---|');
    for (const { file, result } of runs) {
      const targets = result.targets.filter((t) => t.met !== null);
      const metCount = targets.filter((t) => t.met).length;
      lines.push(
        `| ${result.startedAt.slice(0, 16).replace('T', ' ')} | ${result.machine.commit} | ${cell(describeMachine(result.machine))} | ${loadText(result.load)} | ${result.quick ? 'quick' : 'full'} | ${cell(result.headline.map(([k, v]) => `${k}: ${v}`).join('; '))} | ${targets.length ? `${metCount}/${targets.length}` : '–'} | results/${file} |`,
      );
    }
    const latest = runs.find((r) => !r.result.quick) ?? runs[0]!;
    lines.push('');
    lines.push(
      `Targets in the newest ${latest.result.quick ? 'quick' : 'full'} run (${latest.result.startedAt.slice(0, 16).replace('T', ' ')}):`,
      '',
    );
    lines.push('| measure | target | measured | met | why / limits |');
    lines.push('|---|---|---|---|---|');
    for (const target of latest.result.targets)
      lines.push(
        `| ${cell(target.name)} | ${cell(target.target)} | ${cell(target.value)} | ${met(target.met)} | ${cell(target.note ?? '')} |`,
      );
    if (latest.result.notes.length) {
      lines.push('');
      for (const note of latest.result.notes) lines.push(`- ${note}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/**
 * Benchmarks whose rows measure a path agents no longer take by default, and what to say so in
 * SUMMARY.md: `scale` runs agents over POST reports + SSE pushes, the fallback an agent uses only
 * against a coordinator without the agent link (its figures stay true for that path).
 */
const PATH_NOTE: Readonly<Record<string, string>> = {
  scale:
    ' (POST + SSE: the fallback for a coordinator without the agent link; the link is measured by bench/agent-link.ts, below)',
};

/** The row's metric with its benchmark's path note, once. Pure. */
function labelled(bench: string, metric: string): string {
  const note = PATH_NOTE[bench];
  return note && !metric.includes(note) ? `${metric}${note}` : metric;
}

/** SUMMARY.md: one short table, from the newest full run of each benchmark (quick runs only if none). */
export function renderSummary(entries: { file: string; result: BenchResult }[]): string {
  const lines: string[] = [
    '| benchmark | herald ÷ reference | herald | reference | target | met |',
    '|---|---|---|---|---|---|',
  ];
  const loads: string[] = [];
  let busiest = 0;
  for (const bench of BENCH_ORDER) {
    const runs = entries.filter((e) => e.result.bench === bench).reverse();
    const latest = runs.find((r) => !r.result.quick) ?? runs[0];
    if (!latest) continue;
    loads.push(`${bench} ${latest.result.load.start[0] ?? '?'}${latest.result.quick ? ' (quick run)' : ''}`);
    busiest = Math.max(busiest, latest.result.load.start[0] ?? 0);
    for (const row of latest.result.summary)
      lines.push(
        `| ${cell(labelled(bench, row.metric))} | ${cell(row.ratio || '–')} | ${cell(row.herald)} | ${cell(row.reference || '–')} | ${cell(row.target || '–')} | ${met(row.met)} |`,
      );
  }
  const short: string[] = [];
  for (const bench of BENCH_ORDER) {
    const runs = entries.filter((e) => e.result.bench === bench).reverse();
    const latest = runs.find((r) => !r.result.quick) ?? runs[0];
    for (const target of latest?.result.targets ?? [])
      if (target.met === false)
        short.push(
          `- ${labelled(bench, target.name)}: ${target.value} (target ${target.target})${target.note ? ` — ${firstSentence(target.note)}` : ''}`,
        );
  }
  if (short.length) lines.push('', 'Short of target:', '', ...short);
  const machine = entries.at(-1)?.result.machine;
  lines.push('');
  lines.push(
    `Reference: ExaBGP ${machine?.exabgp ?? '4.2'}'s \`healthcheck\` running \`sipsak\`, same interval, rise and fall. ` +
      `Measured on ${machine ? describeMachine(machine) : 'the project machine'}, ` +
      // A 1-minute load above the core count means other work competed for the CPU.
      `${busiest > (machine?.cores ?? 2) ? 'shared with other work' : 'otherwise quiet'} ` +
      `(1-minute load at start: ${loads.join(', ')}). Details and every run: [bench/RESULTS.md](bench/RESULTS.md).`,
  );
  return lines.join('\n') + '\n';
}

/** Where SUMMARY.md's hand-written part starts (the issue sections below the table). */
export const HAND_WRITTEN_MARKER = '<!-- hand-written, not rendered: keep when re-rendering -->';

/** The rendered summary followed by the hand-written part of the summary as it was (if any). */
export function withHandWritten(rendered: string, previous: string): string {
  const at = previous.indexOf(HAND_WRITTEN_MARKER);
  return at < 0 ? rendered : `${rendered}\n${previous.slice(at)}`;
}

/** The README's copy of the summary table sits between these two lines (kept by renderFiles). */
export const README_TABLE_START =
  '<!-- bench summary: rendered by bench/run.ts from bench/results, do not edit by hand -->';
export const README_TABLE_END = '<!-- end of the rendered bench summary -->';

/** The README with the rendered summary between its markers; unchanged without both markers. Pure. */
export function withReadmeTable(readme: string, rendered: string): string {
  const start = readme.indexOf(README_TABLE_START);
  const end = readme.indexOf(README_TABLE_END);
  if (start < 0 || end < start) return readme;
  return `${readme.slice(0, start + README_TABLE_START.length)}\n\n${rendered.trimEnd()}\n\n${readme.slice(end)}`;
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

export function renderFiles(dir = resultsDir): void {
  const entries = readResults(dir);
  writeFileSync(join(benchDir, 'RESULTS.md'), renderResults(entries));
  const summaryFile = join(benchDir, 'SUMMARY.md');
  const rendered = renderSummary(entries);
  writeFileSync(summaryFile, withHandWritten(rendered, readOr(summaryFile, '')));
  // The README shows the same table; rendering both keeps them from drifting apart.
  const readmeFile = join(benchDir, '..', 'README.md');
  const readme = readOr(readmeFile, '');
  const next = withReadmeTable(readme, rendered);
  if (next !== readme) writeFileSync(readmeFile, next);
}

/** "812 ms" / "1.24 s" style. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

/** "0.42×". */
export function times(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return `${value >= 10 ? value.toFixed(0) : value >= 1 ? value.toFixed(2) : value.toPrecision(2)}×`;
}

/** The text up to the first ". " or ";" (for one-line explanations). Pure. */
export function firstSentence(text: string): string {
  const match = /^(.*?[.;])(\s|$)/.exec(text);
  return (match ? match[1]! : text).replace(/[.;]$/, '');
}
