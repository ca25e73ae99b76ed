/**
 * Errors of `cloudfront deploy` / `kvs sync`, apart from the SDK so the CLI can name them
 * without loading it. AWS SDK errors are translated here, at the seam: nothing from the SDK
 * crosses it but the `cause`.
 */
/** A CloudFront API call failed; the message names the call and AWS's error (CLI exit 1). */
export class DeployError extends Error {
  override name = 'DeployError';
}

/** TestFunction errored or disagreed with the local runtime: nothing was published (CLI exit 1). */
export class DeployRefused extends DeployError {
  override name = 'DeployRefused';
}

/** Calls AWS, turning an SDK error into a DeployError that says which call failed and why. */
export async function aws<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof DeployError) throw err;
    const e = err as Error;
    const hint =
      e.name === 'CredentialsProviderError'
        ? ' (give --profile, or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)'
        : e.name === 'PreconditionFailed' || e.name === 'ConflictException'
          ? ' (it changed since it was read: run the command again)'
          : '';
    throw new DeployError(`${what}: ${e.name}: ${e.message}${hint}`, { cause: err });
  }
}
