import { type Static, Type } from '@sinclair/typebox';
import type { CrossCheck } from '../schema.js';

/**
 * The operators' KPIs (issue 16): each with its target and alert threshold. One source for the
 * edge's dashboard, the Grafana dashboard and the Prometheus alerting rules edgewise generates.
 */
export const KpiSection = Type.Object(
  {
    hitRatio: Type.Object(
      {
        target: Type.Number({ minimum: 0, maximum: 1, default: 0.9, description: 'Viewer hit ratio goal.' }),
        alertBelow: Type.Number({
          minimum: 0,
          maximum: 1,
          default: 0.8,
          description: 'Alert when the viewer hit ratio is below this.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    originLatencyMs: Type.Object(
      {
        target: Type.Number({
          exclusiveMinimum: 0,
          default: 50,
          description: 'Goal for the median origin fetch (request sent to response headers), ms.',
        }),
        alertAbove: Type.Number({
          exclusiveMinimum: 0,
          default: 100,
          description: 'Alert above this median, ms.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    viewerP95Ms: Type.Object(
      {
        target: Type.Number({
          exclusiveMinimum: 0,
          default: 200,
          description: 'Goal for the 95th percentile of viewer request duration at the edge, ms.',
        }),
        alertAbove: Type.Number({
          exclusiveMinimum: 0,
          default: 500,
          description: 'Alert above this p95, ms.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    refreshSeconds: Type.Integer({
      minimum: 1,
      maximum: 3600,
      default: 30,
      description: 'How often the dashboards refresh, and the rate window of the alert rules is 10× it.',
    }),
    sampleSeconds: Type.Integer({
      minimum: 1,
      maximum: 3600,
      default: 10,
      description: 'The edge samples its own metrics this often for its dashboard page.',
    }),
    historySamples: Type.Integer({
      minimum: 2,
      maximum: 100000,
      default: 360,
      description: 'Samples the edge keeps for its dashboard page (360 × 10 s = one hour).',
    }),
  },
  { additionalProperties: false, default: {} },
);
export type KpiConfig = Static<typeof KpiSection>;

/** A threshold on the wrong side of its target would alert while the KPI is met. */
export const kpiRules: CrossCheck = (config, report) => {
  const k = config.kpi;
  if (k.hitRatio.alertBelow > k.hitRatio.target)
    report({
      path: 'kpi.hitRatio.alertBelow',
      message: 'must be ≤ kpi.hitRatio.target',
      value: k.hitRatio.alertBelow,
    });
  if (k.originLatencyMs.alertAbove < k.originLatencyMs.target)
    report({
      path: 'kpi.originLatencyMs.alertAbove',
      message: 'must be ≥ kpi.originLatencyMs.target',
      value: k.originLatencyMs.alertAbove,
    });
  if (k.viewerP95Ms.alertAbove < k.viewerP95Ms.target)
    report({
      path: 'kpi.viewerP95Ms.alertAbove',
      message: 'must be ≥ kpi.viewerP95Ms.target',
      value: k.viewerP95Ms.alertAbove,
    });
};
