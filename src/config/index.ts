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
export { ConfigStore, type ReloadResult } from './store.js';
