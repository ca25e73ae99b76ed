import { LiveConfig } from '../config/live.js';
import { ConfigError, formatIssue } from '../config/load.js';

/** Loads the config for a command; on failure prints every issue and returns undefined (exit 2). */
export function loadConfigOrReport(file: string | undefined): LiveConfig | undefined {
  try {
    return LiveConfig.load({ file });
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
