/**
 * The live config. Request handlers read `store.current` per request, so a reload (SIGHUP or
 * the CLI) applies to the next request without touching open connections. Sections that
 * need a restart (listeners, drivers) keep their running values; the reload says which
 * changed so the log can tell the operator.
 */
import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import { deepFreeze, type LoadedConfig, type LoadOptions, loadConfig } from './load.js';
import { type EdgewiseConfig, RESTART_ONLY_PATHS } from './schema.js';

export interface ReloadResult {
  /** Top-level sections whose values changed and now apply. */
  applied: string[];
  /** Sections that changed in the file but keep their running value until a restart. */
  restartPending: string[];
}

export class LiveConfig extends EventEmitter<{ change: [Readonly<EdgewiseConfig>] }> {
  #loaded: LoadedConfig;
  readonly #options: LoadOptions;

  constructor(loaded: LoadedConfig, options: LoadOptions = {}) {
    super();
    this.#loaded = loaded;
    this.#options = { ...options, file: loaded.file ?? options.file };
  }

  static load(options: LoadOptions = {}): LiveConfig {
    return new LiveConfig(loadConfig(options), options);
  }

  get current(): Readonly<EdgewiseConfig> {
    return this.#loaded.config;
  }

  get loaded(): LoadedConfig {
    return this.#loaded;
  }

  /** Re-reads the file; throws ConfigError (old config stays in force) when it is invalid. */
  reload(): ReloadResult {
    const next = loadConfig(this.#options);
    const old = this.#loaded.config;
    const merged = structuredClone(next.config) as EdgewiseConfig;
    const restartPending: string[] = [];
    for (const section of RESTART_ONLY_PATHS) {
      if (!isDeepStrictEqual(old[section], next.config[section])) restartPending.push(section);
      (merged as unknown as Record<string, unknown>)[section] = old[section];
    }
    const applied = Object.keys(merged).filter(
      (k) => !isDeepStrictEqual((old as Record<string, unknown>)[k], (merged as Record<string, unknown>)[k]),
    );
    this.#loaded = { ...next, config: deepFreeze(merged) };
    this.emit('change', this.#loaded.config);
    return { applied, restartPending };
  }
}
