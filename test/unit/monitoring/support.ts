/**
 * Reading the monitoring kit (monitoring/) for its tests: the alerting and recording rules, the
 * promtool test files, the Grafana dashboard's queries, and the metric names a PromQL
 * expression reads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const monitoringDir = join(repoRoot, 'monitoring');

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RecordingRule {
  record: string;
  expr: string;
}

interface RuleFile<T> {
  groups: { name: string; rules: T[] }[];
}

const readYaml = <T>(path: string): T => parse(readFileSync(path, 'utf8')) as T;

export function alertRules(): AlertRule[] {
  return readYaml<RuleFile<AlertRule>>(join(monitoringDir, 'alerts.yaml')).groups.flatMap((g) => g.rules);
}

export function recordingRules(): RecordingRule[] {
  return readYaml<RuleFile<RecordingRule>>(join(monitoringDir, 'rules.yaml')).groups.flatMap((g) => g.rules);
}

export const promtoolTestFiles = (): string[] =>
  readdirSync(join(monitoringDir, 'tests'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(monitoringDir, 'tests', f));

export interface AlertCase {
  file: string;
  test: string;
  alertname: string;
  /** How many alerts the case expects: 0 is a "stays quiet" case. */
  expected: number;
}

/** Every alert_rule_test of every promtool test file. */
export function alertCases(): AlertCase[] {
  return promtoolTestFiles().flatMap((file) => {
    const doc = readYaml<{
      tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    }>(file);
    return doc.tests.flatMap((t) =>
      (t.alert_rule_test ?? []).map((c) => ({
        file,
        test: t.name,
        alertname: c.alertname,
        expected: c.exp_alerts?.length ?? 0,
      })),
    );
  });
}

export interface DashboardQuery {
  where: string;
  expr: string;
}

interface Panel {
  title?: string;
  type: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

export const dashboardPath = join(monitoringDir, 'dashboards', 'herald.json');

/** Every PromQL query of the dashboard: panel targets, annotations and template variables. */
export function dashboardQueries(): DashboardQuery[] {
  const dashboard = readYaml<{
    panels: Panel[];
    annotations?: { list: { name: string; expr?: string }[] };
    templating?: { list: { name: string; type: string; definition?: string }[] };
  }>(dashboardPath);
  const queries: DashboardQuery[] = [];
  const walk = (panels: Panel[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? [])
        queries.push({ where: `panel "${panel.title}"`, expr: target.expr ?? '' });
      walk(panel.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const annotation of dashboard.annotations?.list ?? [])
    if (annotation.expr) queries.push({ where: `annotation "${annotation.name}"`, expr: annotation.expr });
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== 'query' || !variable.definition) continue;
    // label_values(metric{...}, label): the metric is the query.
    const inner = /^label_values\((.*),\s*\w+\)$/.exec(variable.definition)?.[1] ?? variable.definition;
    queries.push({ where: `variable $${variable.name}`, expr: inner });
  }
  return queries;
}

const PROMQL_WORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names (and recording-rule names) a PromQL expression reads. Not a full parser:
 * enough for the kit's own queries. Strings, label matchers, ranges, grouping label lists and
 * Grafana variables are dropped; a word followed by "(" is a function or aggregation.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\w+/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = match[0];
    const after = stripped.slice(match.index + word.length).trimStart();
    if (after.startsWith('(') || PROMQL_WORDS.has(word.toLowerCase())) continue;
    if (/\d[a-z]+$/.test(word) && /^\d/.test(stripped.slice(match.index - 1, match.index))) continue;
    names.add(word);
  }
  return [...names];
}

/** Metric families a /metrics text declares (# TYPE lines), with a histogram's series names. */
export function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const match of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = match as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

/**
 * Metrics the kit reads that herald does not export, on purpose: Prometheus' own `up`, and the
 * router exporters of the "announced but the router has nothing" alert (README.md).
 */
export const EXTERNAL_METRICS = new Set([
  'up',
  'bird_protocol_up',
  'bird_protocol_prefix_import_count',
  'frr_bgp_peer_state',
  'frr_bgp_peer_prefixes_received_count_total',
]);
