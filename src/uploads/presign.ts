/**
 * S3 presigned POST for direct browser-to-S3 uploads (s3 driver only). The policy carries the
 * same limits as our own signed URLs: `content-length-range` (size), `starts-with $key` (the
 * key or prefix) and a Content-Type condition. S3 itself enforces them; the origin never sees
 * the bytes, so neither sniffing nor precompression applies to such uploads.
 */
import { createPresignedPost, type PresignedPostOptions } from '@aws-sdk/s3-presigned-post';
import { BadUploadRequest } from '../errors.js';
import type { S3Target } from '../storage/types.js';
import type { UploadGrant } from './signing.js';

export interface PresignedPost {
  url: string;
  fields: Record<string, string>;
}

export async function presignedPost(
  driver: S3Target,
  grant: UploadGrant,
  allowedTypes: readonly string[],
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<PresignedPost> {
  const bucketTarget = driver.prefix + grant.target;
  // For a prefix, S3 replaces ${filename} with the name of the uploaded file.
  const Key = grant.scope === 'key' ? bucketTarget : `${bucketTarget}\${filename}`;
  const types = grant.types.length > 0 ? grant.types : allowedTypes;
  const Conditions: NonNullable<PresignedPostOptions['Conditions']> = [
    ['content-length-range', 0, grant.maxBytes],
    ['starts-with', '$key', bucketTarget],
  ];
  const Fields: Record<string, string> = {};
  // A policy cannot say "one of these types": one exact type, or one type/ family, or any.
  if (types.includes('*/*')) Conditions.push(['starts-with', '$Content-Type', '']);
  else if (types.length === 1 && !types[0]!.endsWith('/*')) Fields['Content-Type'] = types[0]!;
  else {
    const families = new Set(types.map((t) => t.split('/', 1)[0]));
    if (families.size !== 1 || !types.some((t) => t.endsWith('/*')))
      throw new BadUploadRequest('a presigned POST allows one content type or one type/* family');
    Conditions.push(['starts-with', '$Content-Type', `${[...families][0]}/`]);
  }
  const Expires = Math.max(1, grant.expires - nowSeconds);
  const post = await createPresignedPost(driver.client, {
    Bucket: driver.bucket,
    Key,
    Conditions,
    Fields,
    Expires,
  });
  return { url: post.url, fields: post.fields };
}
