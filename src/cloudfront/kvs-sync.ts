/**
 * Writes the class table `edgewise cloudfront build --kvs` produces into the real CloudFront
 * KeyValueStore the functions read, so a TTL or browser-TTL change reaches CloudFront with no
 * function publish.
 *
 * The store is found by its id (cloudfront.functions.kvsId, what `cf.kvs(id)` names) through
 * the control plane's ListKeyValueStores, which gives its ARN. The data plane then reads the
 * store's ETag (DescribeKeyValueStore) and its keys (ListKeys, paged), and sends only the
 * difference in one UpdateKeys call with that ETag in If-Match: all-or-nothing, so a function
 * never reads half an old and half a new table, and a concurrent writer makes it fail with
 * ConflictException instead of being overwritten. Only keys under
 * cloudfront.functions.kvsKeyPrefix are ours: others in the same store are never deleted.
 *
 * The data-plane API is signed with SigV4A (a multi-region ECDSA signature); the SDK needs a
 * SigV4A implementation registered, and @aws-sdk/signature-v4a (pure JavaScript, no CRT) is.
 * https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_kvs_UpdateKeys.html
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/kvs-with-functions-kvp.html
 */
import '@aws-sdk/signature-v4a';
import { type CloudFrontClient, ListKeyValueStoresCommand } from '@aws-sdk/client-cloudfront';
import {
  type CloudFrontKeyValueStoreClient,
  DescribeKeyValueStoreCommand,
  ListKeysCommand,
  UpdateKeysCommand,
} from '@aws-sdk/client-cloudfront-keyvaluestore';
import type { KvsEntry } from './build.js';
import { aws, DeployError } from './deploy-error.js';

/** The ARN of the store whose id is `id`. */
export async function findKvsArn(client: CloudFrontClient, id: string): Promise<string> {
  let marker: string | undefined;
  do {
    const m = marker;
    const out = await aws('ListKeyValueStores', () =>
      client.send(new ListKeyValueStoresCommand({ Marker: m })),
    );
    const list = out.KeyValueStoreList;
    const found = list?.Items?.find((s) => s.Id === id);
    if (found?.ARN) return found.ARN;
    marker = list?.NextMarker || undefined;
  } while (marker);
  throw new DeployError(
    `no KeyValueStore has the id ${id} (cloudfront.functions.kvsId); create one with \`aws cloudfront create-key-value-store --name <name>\` and put its Id in the config`,
  );
}

export interface KvsChange {
  puts: Array<{ Key: string; Value: string }>;
  deletes: Array<{ Key: string }>;
}

/** What turns `current` into `desired` within our key prefix. */
export function kvsChange(
  current: ReadonlyMap<string, string>,
  desired: readonly KvsEntry[],
  prefix: string,
): KvsChange {
  const want = new Map(desired.map((e) => [e.key, e.value]));
  const puts = [...want].filter(([k, v]) => current.get(k) !== v).map(([Key, Value]) => ({ Key, Value }));
  const deletes = [...current.keys()]
    .filter((k) => k.startsWith(prefix) && !want.has(k))
    .map((Key) => ({ Key }));
  return { puts, deletes };
}

async function readKeys(client: CloudFrontKeyValueStoreClient, arn: string): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  let token: string | undefined;
  do {
    const t = token;
    const out = await aws('ListKeys', () => client.send(new ListKeysCommand({ KvsARN: arn, NextToken: t })));
    for (const item of out.Items ?? []) if (item.Key !== undefined) keys.set(item.Key, item.Value ?? '');
    token = out.NextToken || undefined;
  } while (token);
  return keys;
}

export interface KvsSyncResult extends KvsChange {
  /** The store's ETag after the sync (unchanged when there was nothing to do). */
  etag: string | undefined;
}

/** Makes the store hold `desired` under `prefix`; a no-op when it already does. */
export async function syncKvs(
  client: CloudFrontKeyValueStoreClient,
  arn: string,
  desired: readonly KvsEntry[],
  prefix: string,
  log: (line: string) => void,
): Promise<KvsSyncResult> {
  const before = await aws(`DescribeKeyValueStore ${arn}`, () =>
    client.send(new DescribeKeyValueStoreCommand({ KvsARN: arn })),
  );
  const current = await readKeys(client, arn);
  const change = kvsChange(current, desired, prefix);
  if (change.puts.length + change.deletes.length === 0) {
    log(`KeyValueStore ${arn}: unchanged (${desired.length} keys already hold these values)`);
    return { ...change, etag: before.ETag };
  }
  const out = await aws(`UpdateKeys ${arn}`, () =>
    client.send(
      new UpdateKeysCommand({
        KvsARN: arn,
        IfMatch: before.ETag,
        ...(change.puts.length > 0 ? { Puts: change.puts } : {}),
        ...(change.deletes.length > 0 ? { Deletes: change.deletes } : {}),
      }),
    ),
  );
  for (const p of change.puts) log(`  put ${p.Key}`);
  for (const d of change.deletes) log(`  delete ${d.Key}`);
  log(`KeyValueStore ${arn}: ${change.puts.length} put, ${change.deletes.length} deleted in one UpdateKeys`);
  return { ...change, etag: out.ETag };
}
