import { ConfigError, formatIssue } from '../config/load.js';
import { ConfigStore } from '../config/store.js';

/** Loads the config for a command; on failure prints every issue and returns undefined (exit 2). */
export function loadStoreOrReport(file: string | undefined): ConfigStore | undefined {
  try {
    return ConfigStore.load({ file });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`edgewise: invalid config ${err.file ?? '(defaults + environment)'}\n`);
      for (const issue of err.issues)
        process.stderr.write(`  ${err.file ?? ''}${err.file ? ': ' : ''}${formatIssue(issue)}\n`);
      return undefined;
    }
    throw err;
  }
}
