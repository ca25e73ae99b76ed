/**
 * `edgewise kpi rules` and `edgewise kpi grafana`: the Prometheus alerting rules and the Grafana
 * dashboard for the edge's KPIs, with the targets and thresholds of the config's `kpi` section
 * (src/edge/dashboard/monitoring.ts). Printed to stdout, for a file the operator deploys.
 */
import { stringify } from 'yaml';
import type { KpiConfig } from '../config/sections/kpi.js';
import { alertRules, grafanaDashboard } from '../edge/dashboard/monitoring.js';
import { type Command, configOption, configOptionHelp, EXIT_OK, EXIT_USAGE, UsageError } from './command.js';
import { loadConfigOrReport } from './load.js';

/** A `kpi` subcommand: loads the config and prints what `render` makes of its `kpi` section. */
function kpiCommand(name: string, summary: string, render: (kpi: KpiConfig) => string): Command {
  return {
    path: ['kpi', name],
    summary,
    usage: '[--config f]',
    options: { ...configOption },
    optionHelp: { ...configOptionHelp },
    async run({ values, positionals }) {
      if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
      const store = loadConfigOrReport(values.config as string | undefined);
      if (!store) return EXIT_USAGE;
      process.stdout.write(render(store.current.kpi));
      return EXIT_OK;
    },
  };
}

export const kpiRules: Command = kpiCommand(
  'rules',
  'Print Prometheus alerting rules (YAML) for the KPIs in the config: hit ratio, origin latency, viewer p95.',
  (kpi) => stringify(alertRules(kpi), { lineWidth: 0 }),
);

export const kpiGrafana: Command = kpiCommand(
  'grafana',
  'Print a Grafana dashboard (JSON, for import) drawing the KPIs against the config’s targets.',
  (kpi) => `${JSON.stringify(grafanaDashboard(kpi), null, 2)}\n`,
);
