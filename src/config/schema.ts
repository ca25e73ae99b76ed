/**
 * The one config schema. Each section lives in its own module under ./sections; this file
 * assembles them and holds the cross-field rules that JSON Schema cannot express.
 */
import { type Static, Type } from '@sinclair/typebox';
import { ClassesSection, DefaultClassSection } from './sections/classes.js';
import { CloudfrontSection } from './sections/cloudfront.js';
import { CorsSection } from './sections/cors.js';
import { DevSection } from './sections/dev.js';
import { EdgeSection } from './sections/edge.js';
import { ImagesSection } from './sections/images.js';
import { KpiSection } from './sections/kpi.js';
import { LoggingSection } from './sections/logging.js';
import { OriginSection } from './sections/origin.js';
import { PrefetchSection } from './sections/prefetch.js';
import { ServerSection } from './sections/server.js';
import { StorageSection } from './sections/storage.js';
import { UploadsSection } from './sections/uploads.js';

export const ConfigSchema = Type.Object(
  {
    server: ServerSection,
    origin: OriginSection,
    classes: ClassesSection,
    defaultClass: DefaultClassSection,
    storage: StorageSection,
    uploads: UploadsSection,
    logging: LoggingSection,
    edge: EdgeSection,
    images: ImagesSection,
    cloudfront: CloudfrontSection,
    cors: CorsSection,
    dev: DevSection,
    prefetch: PrefetchSection,
    kpi: KpiSection,
  },
  { additionalProperties: false, default: {} },
);

export type EdgewiseConfig = Static<typeof ConfigSchema>;

/** One problem found in a config, with the key path in `a.b[1].c` form. */
export interface ConfigIssue {
  path: string;
  message: string;
  value?: unknown;
}

export type CrossCheck = (config: EdgewiseConfig, report: (issue: ConfigIssue) => void) => void;

/**
 * Config paths whose change needs a restart (listeners, drivers). SIGHUP keeps the running
 * values for these and logs that the new ones wait for a restart.
 */
export const RESTART_ONLY_PATHS = ['server', 'storage', 'logging', 'edge', 'dev'] as const;
