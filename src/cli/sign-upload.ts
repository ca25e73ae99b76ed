/**
 * `edgewise sign upload <key-or-prefix>`: prints a signed upload URL, the same as
 * POST /upload-urls returns, signed with the first of uploads.signing.secrets.
 */
import { isCodedError } from '../errors.js';
import { createLogger } from '../logger.js';
import { createStorage } from '../storage/index.js';
import { grantFor, uploadUrlResponse } from '../uploads/grant.js';
import { presignedPost } from '../uploads/presign.js';
import { type Command, configOption, configOptionHelp, EXIT_OK, EXIT_USAGE, UsageError } from './command.js';
import { durationOption } from './duration.js';
import { loadConfigOrReport } from './load.js';

export const signUpload: Command = {
  path: ['sign', 'upload'],
  summary:
    'Print a signed upload URL for a key, or for a key prefix (an argument ending in / or --prefix): PUT for a key, POST (multipart) for a prefix.',
  usage:
    '<key-or-prefix> [--max-bytes N] [--type image/png]… [--expires 15m] [--method PUT|POST] [--base URL] [--presigned-post] [--json]',
  options: {
    ...configOption,
    'max-bytes': { type: 'string' },
    type: { type: 'string', multiple: true },
    expires: { type: 'string', short: 'e' },
    method: { type: 'string' },
    prefix: { type: 'boolean' },
    base: { type: 'string' },
    'presigned-post': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  optionHelp: {
    ...configOptionHelp,
    'max-bytes': 'Largest body in bytes (default and ceiling: uploads.maxBytes)',
    type: 'Allowed content type or type/* family; repeat for several (default uploads.allowedTypes)',
    expires: 'Lifetime: 900s, 15m, 1h (default uploads.signing.defaultExpiresSeconds)',
    method: 'PUT (raw body) or POST (multipart form); default PUT for a key, POST for a prefix',
    prefix: 'Treat the argument as a key prefix even without a trailing /',
    base: 'Origin base URL the client uploads to (default http://<server.host>:<server.port>)',
    'presigned-post': 'Also print an S3 presigned POST (storage.driver s3 only)',
    json: 'Print the JSON that POST /upload-urls returns',
  },
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new UsageError('expected exactly one key or prefix');
    const store = loadConfigOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    const config = store.current;
    const target = positionals[0]!;
    const asPrefix = Boolean(values.prefix) || target.endsWith('/');
    const rawMax = values['max-bytes'] as string | undefined;
    if (rawMax !== undefined && !/^\d+$/.test(rawMax))
      throw new UsageError('--max-bytes must be a whole number');
    const method = values.method as string | undefined;
    if (method !== undefined && method !== 'PUT' && method !== 'POST')
      throw new UsageError('--method must be PUT or POST');
    const expires =
      values.expires === undefined ? undefined : durationOption(String(values.expires), '--expires') / 1000;
    let grant: ReturnType<typeof grantFor>;
    try {
      grant = grantFor(config.uploads, {
        ...(asPrefix ? { prefix: target } : { key: target }),
        method,
        contentTypes: values.type as string[] | undefined,
        maxBytes: rawMax === undefined ? undefined : Number(rawMax),
        expiresInSeconds: expires,
      });
    } catch (err) {
      if (isCodedError(err)) throw new UsageError(err.message);
      throw err;
    }
    if (config.uploads.signing.secrets.length === 0)
      throw new UsageError('uploads.signing.secrets is empty: add a secret (id, secret) to sign upload URLs');
    const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
    const base = (values.base as string | undefined) ?? `http://${host}:${config.server.port}`;
    let post: Awaited<ReturnType<typeof presignedPost>> | undefined;
    if (values['presigned-post']) {
      const driver = await createStorage(config.storage, createLogger({ level: 'silent', pretty: false }));
      try {
        if (!driver.presignedPost) throw new UsageError('--presigned-post needs storage.driver "s3"');
        post = await presignedPost(driver.presignedPost, grant, config.uploads.allowedTypes);
      } finally {
        await driver.close();
      }
    }
    const answer = uploadUrlResponse(config.uploads, grant, base, post);
    if (values.json) process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
    else {
      process.stdout.write(`${answer.method} ${answer.url}\n`);
      if (post) process.stdout.write(`presigned POST ${post.url}\n${JSON.stringify(post.fields, null, 2)}\n`);
    }
    return EXIT_OK;
  },
};
