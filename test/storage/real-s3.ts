/** A real S3 endpoint for the tests, when EDGEWISE_TEST_S3_* variables name one. */
export interface RealS3 {
  endpoint: string;
  bucket: string;
  region: string;
  forcePathStyle: boolean;
  checksumMode: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export function realS3Env(env: NodeJS.ProcessEnv = process.env): RealS3 | undefined {
  const endpoint = env.EDGEWISE_TEST_S3_ENDPOINT;
  const bucket = env.EDGEWISE_TEST_S3_BUCKET;
  const region = env.EDGEWISE_TEST_S3_REGION;
  const accessKeyId = env.EDGEWISE_TEST_S3_ACCESS_KEY_ID;
  const secretAccessKey = env.EDGEWISE_TEST_S3_SECRET_ACCESS_KEY;
  if (!endpoint || !bucket || !region || !accessKeyId || !secretAccessKey) return undefined;
  return {
    endpoint,
    bucket,
    region,
    // AWS itself takes virtual-hosted style; most S3-compatible stores want path style.
    forcePathStyle: !/\.amazonaws\.com/.test(endpoint),
    checksumMode: /\.amazonaws\.com/.test(endpoint) ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED',
    credentials: { accessKeyId, secretAccessKey },
  };
}
