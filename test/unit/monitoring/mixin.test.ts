/**
 * The monitoring kit (monitoring/) is valid for Prometheus (promtool check rules) and its
 * alerts behave as the promtool unit tests say (promtool test rules); every alert has the
 * labels and annotations an operator relies on, a runbook section, a case that fires it and one
 * that keeps it quiet; the Grafana dashboard reads only herald metrics or the kit's recording
 * rules (test/integration/monitoring/ checks those against live /metrics scrapes).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findProgram, requireLab } from '../ansible/support.js';
import {
  alertCases,
  alertRules,
  dashboardPath,
  dashboardQueries,
  EXTERNAL_METRICS,
  metricNames,
  monitoringDir,
  promtoolTestFiles,
  recordingRules,
  repoRoot,
} from './support.js';

const promtool = findProgram('promtool');
const skipPromtool = promtool ? false : 'needs promtool (Debian package prometheus)';
if (skipPromtool && requireLab) throw new Error(`${skipPromtool} (HERALD_REQUIRE_LAB=1)`);

function runPromtool(args: string[]): { code: number | null; output: string } {
  const result = spawnSync(promtool!, args, { cwd: monitoringDir, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('monitoring kit: promtool', { skip: skipPromtool }, () => {
  it('promtool check rules accepts the recording and alerting rules', () => {
    const { code, output } = runPromtool(['check', 'rules', 'rules.yaml', 'alerts.yaml']);
    assert.equal(code, 0, output);
  });

  it('promtool test rules passes every unit test', () => {
    const files = promtoolTestFiles().map((f) => f.slice(monitoringDir.length + 1));
    assert.ok(files.length >= 3, `test files: ${files.join(', ')}`);
    const { code, output } = runPromtool(['test', 'rules', ...files]);
    assert.equal(code, 0, output);
    assert.equal(output.match(/SUCCESS/g)?.length, files.length, output);
  });

  it('a broken alert fails its promtool test (the tests can fail)', async () => {
    const { mkdtempSync, writeFileSync, cpSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'herald-mixin-'));
    try {
      cpSync(monitoringDir, dir, { recursive: true });
      // Make the stale-agent alert never fire: its "fires" case must now fail.
      const alerts = readFileSync(join(dir, 'alerts.yaml'), 'utf8');
      const broken = alerts.replace(
        'herald_coordinator_agents_stale > 0',
        'herald_coordinator_agents_stale > 1e9',
      );
      assert.notEqual(broken, alerts);
      writeFileSync(join(dir, 'alerts.yaml'), broken);
      const result = spawnSync(promtool!, ['test', 'rules', 'tests/agents.yaml'], {
        cwd: dir,
        encoding: 'utf8',
      });
      assert.notEqual(result.status, 0);
      assert.match(result.stderr, /stale agents at the coordinator fire/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('monitoring kit: alert conventions', () => {
  const alerts = alertRules();
  const cases = alertCases();
  const runbook = readFileSync(join(repoRoot, 'docs/monitoring/runbook.md'), 'utf8');
  const anchors = new Set(
    [...runbook.matchAll(/^#{2,3} (.+)$/gm)].map((m) =>
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, '')
        .replace(/ /g, '-'),
    ),
  );

  it('has the alerts the issue asks for', () => {
    const names = alerts.map((a) => a.alert);
    for (const name of [
      'HeraldAgentDown',
      'HeraldAgentStale',
      'HeraldRouteNotAcknowledged',
      'HeraldExabgpAckFailures',
      'HeraldFlapHoldDown',
      'HeraldPanicModeEngaged',
      'HeraldDrainOverdue',
      'HeraldDrainBlocked',
      'HeraldCertificateExpiringSoon',
      'HeraldAnnouncingSitesAtFloor',
      'HeraldRouteMissingAtRouter',
    ])
      assert.ok(names.includes(name), `missing ${name}`);
    assert.equal(new Set(names).size, names.length, 'alert names are unique');
  });

  for (const alert of alerts)
    it(`${alert.alert}: prefix, severity, annotations, runbook, a firing and a quiet test`, () => {
      assert.match(alert.alert, /^Herald[A-Z]\w+$/);
      assert.ok(
        ['critical', 'warning', 'info'].includes(alert.labels?.severity ?? ''),
        `severity: ${alert.labels?.severity}`,
      );
      for (const key of ['summary', 'description', 'runbook_url'])
        assert.ok(alert.annotations?.[key]?.trim(), `annotation ${key} is missing`);
      const [path, anchor] = alert.annotations!.runbook_url!.split('#');
      assert.equal(path, 'docs/monitoring/runbook.md');
      assert.equal(anchor, alert.alert.toLowerCase());
      assert.ok(anchors.has(anchor!), `docs/monitoring/runbook.md has no section "${alert.alert}"`);
      const mine = cases.filter((c) => c.alertname === alert.alert);
      assert.ok(
        mine.some((c) => c.expected > 0),
        `no promtool case fires ${alert.alert}`,
      );
      assert.ok(
        mine.some((c) => c.expected === 0),
        `no promtool case keeps ${alert.alert} quiet`,
      );
    });

  it('alerts and recording rules read herald metrics, recording rules or the documented externals', () => {
    const recorded = new Set(recordingRules().map((r) => r.record));
    for (const rule of [...alerts, ...recordingRules()])
      for (const name of metricNames(rule.expr))
        assert.ok(
          /^(herald_|probe_)/.test(name) || recorded.has(name) || EXTERNAL_METRICS.has(name),
          `${'alert' in rule ? rule.alert : rule.record} reads ${name}`,
        );
  });
});

describe('monitoring kit: Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as { uid: string; panels: unknown[] };
  const queries = dashboardQueries();

  it('is a Grafana dashboard with queries on a selectable Prometheus datasource', () => {
    assert.equal(dashboard.uid, 'herald-overview');
    assert.ok(queries.length >= 20, `${queries.length} queries`);
    for (const q of queries) assert.ok(q.expr.trim(), `${q.where} has an empty query`);
    assert.ok(
      !readFileSync(dashboardPath, 'utf8').includes('"uid": "prometheus"'),
      'datasource is ${datasource}',
    );
  });

  it('every query reads herald metrics or the kit recording rules', () => {
    const recorded = new Set(recordingRules().map((r) => r.record));
    for (const q of queries) {
      const names = metricNames(q.expr);
      assert.ok(names.length > 0, `${q.where}: no metric in ${q.expr}`);
      for (const name of names)
        assert.ok(/^(herald_|probe_)/.test(name) || recorded.has(name), `${q.where} reads ${name}`);
    }
  });

  it('metricNames reads what a query really names', () => {
    assert.deepEqual(
      metricNames(
        'histogram_quantile(0.95, sum by (le, route) (rate(herald_coordinator_http_request_seconds_bucket{job=~"$j"}[$__rate_interval])))',
      ),
      ['herald_coordinator_http_request_seconds_bucket'],
    );
    assert.deepEqual(metricNames('abs((herald_route_desired > bool 0) - herald_route_announced)'), [
      'herald_route_desired',
      'herald_route_announced',
    ]);
    assert.deepEqual(metricNames('x:y < 14 * 86400 and on (node) up == 0'), ['x:y', 'up']);
  });
});
