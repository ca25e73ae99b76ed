/**
 * `edgewise kpi rules` and `edgewise kpi grafana`: the Prometheus alerting rules and the Grafana
 * dashboard for the edge's KPIs, with the targets and thresholds of the config's `kpi` section
 * (src/edge/dashboard/monitoring.ts). Printed to stdout, for a file the operator deploys.
 */
import { stringify } from 'yaml';
import { alertRules, grafanaDashboard } from '../edge/dashboard/monitoring.js';
import { type Command, configOption, configOptionHelp, EXIT_OK, EXIT_USAGE, UsageError } from './command.js';
import { loadConfigOrReport } from './load.js';

export const kpiRules: Command = {
  path: ['kpi', 'rules'],
  summary:
    'Print Prometheus alerting rules (YAML) for the KPIs in the config: hit ratio, origin latency, viewer p95.',
  usage: '[--config f]',
  options: { ...configOption },
  optionHelp: { ...configOptionHelp },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const store = loadConfigOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    process.stdout.write(stringify(alertRules(store.current.kpi), { lineWidth: 0 }));
    return EXIT_OK;
  },
};

export const kpiGrafana: Command = {
  path: ['kpi', 'grafana'],
  summary: 'Print a Grafana dashboard (JSON, for import) drawing the KPIs against the config’s targets.',
  usage: '[--config f]',
  options: { ...configOption },
  optionHelp: { ...configOptionHelp },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const store = loadConfigOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    process.stdout.write(`${JSON.stringify(grafanaDashboard(store.current.kpi), null, 2)}\n`);
    return EXIT_OK;
  },
};
