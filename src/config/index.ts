export { LiveConfig, type ReloadResult } from './live.js';
export {
  buildConfig,
  ConfigError,
  DEFAULT_CONFIG_FILE,
  formatIssue,
  type LoadedConfig,
  loadConfig,
} from './load.js';
export type { ConfigIssue, EdgewiseConfig } from './schema.js';
export type { ContentClassConfig } from './sections/classes.js';
