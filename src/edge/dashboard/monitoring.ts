/**
 * The KPIs for a Prometheus + Grafana setup, generated from `kpi` in the config: Prometheus
 * alerting rules and a Grafana dashboard that draw the same numbers the edge's own page draws
 * (src/edge/dashboard/series.ts computes them with PromQL's rules), with the same targets and
 * thresholds. One expression per KPI, used by the rule and by its panel.
 */
import type { KpiConfig } from '../../config/sections/kpi.js';

/** The rate window of rules and panels: ten dashboard refreshes (5 min by default). */
export function rateWindow(kpi: KpiConfig): string {
  return `${kpi.refreshSeconds * 10}s`;
}

const HITS = 'result=~"Hit|RefreshHit"';

/** The PromQL of each KPI over a window (`[5m]`, or Grafana's `$__rate_interval`). */
export function kpiExpressions(window: string) {
  return {
    hitRatio: `sum(rate(edgewise_edge_requests_total{traffic="viewer",${HITS}}[${window}])) / sum(rate(edgewise_edge_requests_total{traffic="viewer"}[${window}]))`,
    originP50Seconds: `histogram_quantile(0.5, sum by (le) (rate(edgewise_edge_origin_duration_seconds_bucket{outcome="response"}[${window}])))`,
    originP95Seconds: `histogram_quantile(0.95, sum by (le) (rate(edgewise_edge_origin_duration_seconds_bucket{outcome="response"}[${window}])))`,
    viewerP95Seconds: `histogram_quantile(0.95, sum by (le) (rate(edgewise_edge_request_duration_seconds_bucket{traffic="viewer"}[${window}])))`,
    requestsByClassResult: `sum by (class, result) (rate(edgewise_edge_requests_total{traffic="viewer"}[${window}]))`,
    prefetchPerSecond: `sum(rate(edgewise_edge_requests_total{traffic="prefetch"}[${window}]))`,
    savedBytesPerSecond: `sum(rate(edgewise_edge_response_bytes_total{traffic="viewer",${HITS}}[${window}]))`,
    heatmap: `sum by (le) (increase(edgewise_edge_request_duration_seconds_bucket{traffic="viewer"}[${window}]))`,
  };
}

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Prometheus alerting rules (the `groups:` file `promtool check rules` reads). */
export function alertRules(kpi: KpiConfig): { groups: Array<{ name: string; rules: AlertRule[] }> } {
  const w = rateWindow(kpi);
  const e = kpiExpressions(w);
  const rule = (alert: string, expr: string, summary: string): AlertRule => ({
    alert,
    expr,
    for: w,
    labels: { severity: 'warning', service: 'edgewise-edge' },
    annotations: { summary, description: `${summary} (over ${w}; edgewise.yaml kpi).` },
  });
  return {
    groups: [
      {
        name: 'edgewise-edge-kpi',
        rules: [
          rule(
            'EdgewiseHitRatioLow',
            `(${e.hitRatio}) < ${kpi.hitRatio.alertBelow}`,
            `Viewer hit ratio below ${kpi.hitRatio.alertBelow * 100} % (target ${kpi.hitRatio.target * 100} %)`,
          ),
          rule(
            'EdgewiseOriginLatencyHigh',
            `(${e.originP50Seconds}) > ${kpi.originLatencyMs.alertAbove / 1000}`,
            `Median origin fetch above ${kpi.originLatencyMs.alertAbove} ms (target ${kpi.originLatencyMs.target} ms)`,
          ),
          rule(
            'EdgewiseViewerP95High',
            `(${e.viewerP95Seconds}) > ${kpi.viewerP95Ms.alertAbove / 1000}`,
            `Viewer p95 above ${kpi.viewerP95Ms.alertAbove} ms (target ${kpi.viewerP95Ms.target} ms)`,
          ),
        ],
      },
    ],
  };
}

type Panel = Record<string, unknown>;

function thresholds(steps: Array<{ color: string; value: number | null }>) {
  return { mode: 'absolute', steps };
}

/** A Grafana dashboard (import JSON; the Prometheus datasource is chosen at import). */
export function grafanaDashboard(kpi: KpiConfig): Record<string, unknown> {
  const e = kpiExpressions('$__rate_interval');
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's import variable, not a JS template
  const ds = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };
  let id = 0;
  const panel = (
    title: string,
    targets: Array<{ expr: string; legendFormat: string; format?: 'heatmap' }>,
    fieldConfig: Record<string, unknown>,
    type = 'timeseries',
    extra: Record<string, unknown> = {},
  ): Panel => {
    const n = id++;
    return {
      id: n + 1,
      type,
      title,
      datasource: ds,
      gridPos: { x: (n % 3) * 8, y: Math.floor(n / 3) * 8, w: 8, h: 8 },
      targets: targets.map((t, i) => ({ refId: String.fromCharCode(65 + i), datasource: ds, ...t })),
      fieldConfig: { defaults: fieldConfig, overrides: [] },
      ...extra,
    };
  };
  const line = { custom: { thresholdsStyle: { mode: 'line+area' } } };
  /** A latency panel's field: seconds, green to the target, orange to the alert, red beyond. */
  const latency = (ms: { target: number; alertAbove: number }) => ({
    ...line,
    unit: 's',
    min: 0,
    thresholds: thresholds([
      { color: 'green', value: null },
      { color: 'orange', value: ms.target / 1000 },
      { color: 'red', value: ms.alertAbove / 1000 },
    ]),
  });
  const panels: Panel[] = [
    panel('Hit ratio (viewers)', [{ expr: e.hitRatio, legendFormat: 'hit ratio' }], {
      ...line,
      unit: 'percentunit',
      min: 0,
      max: 1,
      thresholds: thresholds([
        { color: 'red', value: null },
        { color: 'orange', value: kpi.hitRatio.alertBelow },
        { color: 'green', value: kpi.hitRatio.target },
      ]),
    }),
    panel(
      'Origin latency p50 / p95',
      [
        { expr: e.originP50Seconds, legendFormat: 'p50' },
        { expr: e.originP95Seconds, legendFormat: 'p95' },
      ],
      latency(kpi.originLatencyMs),
    ),
    panel('Viewer p95', [{ expr: e.viewerP95Seconds, legendFormat: 'p95' }], latency(kpi.viewerP95Ms)),
    panel(
      'Latency heatmap (viewers)',
      [{ expr: e.heatmap, legendFormat: '{{le}}', format: 'heatmap' }],
      {},
      'heatmap',
      {
        options: { calculate: false, yAxis: { unit: 's' } },
      },
    ),
    panel(
      'Requests by class and result',
      [{ expr: e.requestsByClassResult, legendFormat: '{{class}} {{result}}' }],
      {
        unit: 'reqps',
      },
    ),
    panel('Prefetch activity', [{ expr: e.prefetchPerSecond, legendFormat: 'prefetch req/s' }], {
      unit: 'reqps',
    }),
    panel('Bandwidth saved', [{ expr: e.savedBytesPerSecond, legendFormat: 'served from cache' }], {
      unit: 'Bps',
    }),
  ];
  return {
    __inputs: [{ name: 'DS_PROMETHEUS', label: 'Prometheus', type: 'datasource', pluginId: 'prometheus' }],
    title: 'edgewise edge',
    uid: 'edgewise-edge',
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: `${kpi.refreshSeconds}s`,
    time: { from: 'now-1h', to: 'now' },
    tags: ['edgewise'],
    panels,
  };
}
