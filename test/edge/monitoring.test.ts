/**
 * The generated Prometheus rules and Grafana dashboard (src/edge/dashboard/monitoring.ts):
 * Prometheus's own promtool checks the rules and runs them on series made for each KPI, so an
 * alert fires past its threshold and stays quiet inside it; the dashboard's KPI panels use the
 * same expressions and the config's targets and thresholds.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildConfig } from '../../src/config/load.js';
import { alertRules, kpiExpressions } from '../../src/edge/dashboard/monitoring.js';
import { CLI } from '../helpers/cli.js';

const HAVE_PROMTOOL = spawnSync('promtool', ['--version']).status === 0;
const SKIP = 'promtool is not installed (apt-get install prometheus; .ci/run does)';
if (!HAVE_PROMTOOL) console.warn(`test/edge/monitoring.test.ts: promtool tests skipped: ${SKIP}`);

const kpi = buildConfig({}, undefined).config.kpi;

/** Counter series rising by `per` every 30 s for 20 minutes. */
const rising = (series: string, per: number) => ({ series, values: `0+${per}x40` });

describe('Prometheus alerting rules', () => {
  it('promtool accepts them, and each alert fires past its threshold and not inside it', (ctx) => {
    if (!HAVE_PROMTOOL) ctx.skip(SKIP);
    const dir = mkdtempSync(join(tmpdir(), 'edgewise-rules-'));
    const rulesFile = join(dir, 'rules.yml');
    writeFileSync(rulesFile, execFileSync(process.execPath, [CLI, 'kpi', 'rules']));
    expect(execFileSync('promtool', ['check', 'rules', rulesFile]).toString()).toContain(
      'SUCCESS: 3 rules found',
    );
    const rules = alertRules(kpi).groups[0]!.rules;
    const expected = (name: string) => {
      const r = rules.find((x) => x.alert === name)!;
      return [{ exp_labels: r.labels, exp_annotations: r.annotations }];
    };
    const req = (result: string, traffic = 'viewer') =>
      `edgewise_edge_requests_total{result="${result}",class="c",traffic="${traffic}"}`;
    const bucket = (metric: string, le: string, extra: string) => `${metric}_bucket{le="${le}",${extra}}`;
    const origin = 'edgewise_edge_origin_duration_seconds';
    const viewer = 'edgewise_edge_request_duration_seconds';
    const test = (series: Array<{ series: string; values: string }>, alerts: Record<string, boolean>) => ({
      interval: '30s',
      input_series: series,
      alert_rule_test: Object.entries(alerts).map(([alertname, fires]) => ({
        eval_time: '15m',
        alertname,
        exp_alerts: fires ? expected(alertname) : [],
      })),
    });
    const tests = {
      rule_files: [rulesFile],
      evaluation_interval: '30s',
      tests: [
        // 70 % hits: below the 80 % alert threshold. Prefetch misses do not count either way.
        test([rising(req('Hit'), 70), rising(req('Miss'), 30), rising(req('Miss', 'prefetch'), 500)], {
          EdgewiseHitRatioLow: true,
        }),
        // 85 %: off target but above the alert threshold.
        test([rising(req('Hit'), 85), rising(req('Miss'), 15)], { EdgewiseHitRatioLow: false }),
        // Origin median in (0.05, 0.25]: 0.05 + 0.2 × 40/90 ≈ 139 ms > 100 ms.
        test(
          [
            rising(bucket(origin, '0.05', 'kind="fill",class="c",outcome="response"'), 10),
            rising(bucket(origin, '0.25', 'kind="fill",class="c",outcome="response"'), 100),
            rising(bucket(origin, '+Inf', 'kind="fill",class="c",outcome="response"'), 100),
          ],
          { EdgewiseOriginLatencyHigh: true },
        ),
        // Median 25 ms: quiet.
        test(
          [
            rising(bucket(origin, '0.05', 'kind="fill",class="c",outcome="response"'), 100),
            rising(bucket(origin, '+Inf', 'kind="fill",class="c",outcome="response"'), 100),
          ],
          { EdgewiseOriginLatencyHigh: false },
        ),
        // Viewer p95 in (0.2, 1]: 0.2 + 0.8 × 5/10 = 600 ms > 500 ms.
        test(
          [
            rising(bucket(viewer, '0.2', 'class="c",result="Hit",status_class="2xx",traffic="viewer"'), 90),
            rising(bucket(viewer, '1', 'class="c",result="Hit",status_class="2xx",traffic="viewer"'), 100),
            rising(bucket(viewer, '+Inf', 'class="c",result="Hit",status_class="2xx",traffic="viewer"'), 100),
          ],
          { EdgewiseViewerP95High: true },
        ),
        // The prefetch worker's slow requests are not viewers'.
        test(
          [
            rising(bucket(viewer, '0.2', 'class="c",result="Hit",status_class="2xx",traffic="viewer"'), 100),
            rising(bucket(viewer, '+Inf', 'class="c",result="Hit",status_class="2xx",traffic="viewer"'), 100),
            rising(bucket(viewer, '5', 'class="c",result="Miss",status_class="2xx",traffic="prefetch"'), 100),
            rising(
              bucket(viewer, '+Inf', 'class="c",result="Miss",status_class="2xx",traffic="prefetch"'),
              100,
            ),
          ],
          { EdgewiseViewerP95High: false },
        ),
      ],
    };
    const testFile = join(dir, 'rules.test.yml');
    writeFileSync(testFile, stringify(tests));
    const run = spawnSync('promtool', ['test', 'rules', testFile]);
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
  });

  it('a threshold on the wrong side of its target is a config error naming the path', () => {
    expect(() => buildConfig({ kpi: { hitRatio: { target: 0.8, alertBelow: 0.9 } } }, undefined)).toThrow(
      /kpi\.hitRatio\.alertBelow: must be ≤ kpi\.hitRatio\.target/,
    );
    expect(() => buildConfig({ kpi: { viewerP95Ms: { target: 300, alertAbove: 200 } } }, undefined)).toThrow(
      /kpi\.viewerP95Ms\.alertAbove/,
    );
  });

  it('thresholds come from the config', () => {
    const custom = buildConfig({ kpi: { hitRatio: { target: 0.95, alertBelow: 0.85 } } }, undefined).config
      .kpi;
    expect(alertRules(custom).groups[0]!.rules[0]!.expr).toMatch(/\) < 0\.85$/);
  });
});

describe('Grafana dashboard', () => {
  it('draws each KPI with the rule’s expression and the config’s target and threshold', () => {
    const out = execFileSync(process.execPath, [CLI, 'kpi', 'grafana']).toString();
    const d = JSON.parse(out) as {
      refresh: string;
      panels: Array<{
        title: string;
        type: string;
        targets: Array<{ expr: string }>;
        fieldConfig: { defaults: { thresholds?: { steps: Array<{ value: number | null }> } } };
      }>;
    };
    expect(d.refresh).toBe(`${kpi.refreshSeconds}s`);
    const e = kpiExpressions('$__rate_interval');
    const byTitle = new Map(d.panels.map((p) => [p.title, p]));
    const hit = byTitle.get('Hit ratio (viewers)')!;
    expect(hit.targets[0]!.expr).toBe(e.hitRatio);
    expect(hit.fieldConfig.defaults.thresholds!.steps.map((s) => s.value)).toEqual([
      null,
      kpi.hitRatio.alertBelow,
      kpi.hitRatio.target,
    ]);
    expect(byTitle.get('Origin latency p50 / p95')!.targets.map((t) => t.expr)).toEqual([
      e.originP50Seconds,
      e.originP95Seconds,
    ]);
    expect(byTitle.get('Viewer p95')!.fieldConfig.defaults.thresholds!.steps.map((s) => s.value)).toEqual([
      null,
      kpi.viewerP95Ms.target / 1000,
      kpi.viewerP95Ms.alertAbove / 1000,
    ]);
    expect(byTitle.get('Latency heatmap (viewers)')!.type).toBe('heatmap');
    expect(d.panels).toHaveLength(7);
    // The rules use the same expressions over their own window.
    const w = `${kpi.refreshSeconds * 10}s`;
    expect(alertRules(kpi).groups[0]!.rules[0]!.expr).toBe(
      `(${kpiExpressions(w).hitRatio}) < ${kpi.hitRatio.alertBelow}`,
    );
  });
});
