import { type Static, Type } from '@sinclair/typebox';

export const LoggingSection = Type.Object(
  {
    level: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'pino level; 5xx log at error, rejected requests (4xx) at info.' },
    ),
    pretty: Type.Boolean({
      default: false,
      description: 'Human-readable logs (pino-pretty); `edgewise dev` turns it on when stdout is a terminal.',
    }),
  },
  { additionalProperties: false, default: {} },
);
export type LoggingConfig = Static<typeof LoggingSection>;
