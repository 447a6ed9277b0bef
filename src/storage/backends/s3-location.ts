import type * as S3Sdk from '@aws-sdk/client-s3';

/** What {@link s3Location} reads of an S3 backend's options. */
export interface S3LocationOptions {
  readonly client?: S3Sdk.S3Client;
  readonly clientConfig?: S3Sdk.S3ClientConfig;
}

let opaque = 0;
const opaqueIds = new WeakMap<object, string>();

/**
 * The endpoint and region an S3 backend talks to, as a string that is equal
 * for two backends only when they reach the same service: it keys the read
 * cache, where two servers that merely share a bucket name must never share
 * entries. What cannot be read without I/O (a client made elsewhere, an
 * endpoint or region given as a provider function) is named by its own
 * object, which is always safe: at worst two backends on one service keep
 * separate entries.
 */
export function s3Location(options: S3LocationOptions): string {
  if (options.client !== undefined) return opaqueId(options.client);
  const config = options.clientConfig ?? {};
  const given = config.endpoint;
  const endpoint = endpointOf(given) ?? (typeof given === 'function' || typeof given === 'object' ? opaqueId(given) : 'aws');
  const region = typeof config.region === 'string' ? config.region : config.region === undefined ? (process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? '') : opaqueId(config.region);
  return `${endpoint}|${region}`;
}

function endpointOf(endpoint: S3Sdk.S3ClientConfig['endpoint']): string | undefined {
  if (typeof endpoint === 'string') return normalised(endpoint);
  if (endpoint !== undefined && typeof endpoint === 'object' && 'url' in endpoint) return normalised(endpoint.url.href);
  if (endpoint !== undefined && typeof endpoint === 'object' && 'hostname' in endpoint) {
    const port = endpoint.port === undefined ? '' : `:${String(endpoint.port)}`;
    return normalised(`${endpoint.protocol}//${endpoint.hostname}${port}${endpoint.path}`);
  }
  return undefined;
}

function normalised(url: string): string {
  try {
    return new URL(url).href.replace(/\/+$/, '');
  } catch {
    return url;
  }
}

function opaqueId(value: object): string {
  let id = opaqueIds.get(value);
  if (id === undefined) {
    opaque += 1;
    id = `object#${String(opaque)}`;
    opaqueIds.set(value, id);
  }
  return id;
}
