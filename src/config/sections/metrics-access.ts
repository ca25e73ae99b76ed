import { Type } from '@sinclair/typebox';
import { allowIpProblem } from '../../http/operator-access.js';

/**
 * The `metricsAccess` block of the origin (`server.metricsAccess`) and of the edge
 * (`edge.metricsAccess`): one shape, checked by one guard (src/http/operator-access.ts).
 * `what` names the endpoints in the descriptions; `env` is the env prefix of the block.
 */
export const metricsAccessSchema = (what: string, env: string) =>
  Type.Object(
    {
      apiKeys: Type.Array(Type.String({ minLength: 16, maxLength: 256 }), {
        default: [],
        maxItems: 16,
        description: `Bearer keys (Authorization: Bearer <key>) that open ${what} (set by env, ${env}__APIKEYS='[key]').`,
      }),
      allowIps: Type.Array(Type.String({ minLength: 2, maxLength: 64 }), {
        default: [],
        maxItems: 64,
        description:
          'Client addresses or CIDR ranges (10.0.0.0/8, ::1) that read them without a key: the TCP peer, never X-Forwarded-For. With no keys and no addresses they answer 401 to everyone.',
      }),
    },
    { additionalProperties: false, default: {} },
  );

/** Every allowIps entry is an address or a CIDR range (BlockList would throw at the first request). */
export const metricsAccessRules = (
  path: string,
  access: { allowIps: readonly string[] },
  report: (issue: { path: string; message: string; value?: unknown }) => void,
): void => {
  access.allowIps.forEach((entry, i) => {
    const problem = allowIpProblem(entry);
    if (problem) report({ path: `${path}.allowIps[${i}]`, message: problem, value: entry });
  });
};
