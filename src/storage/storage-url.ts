import { ErrorCode, TaskforgeError } from '../core/errors.js';
import type { StorageBackend } from './backend.js';
import { S3Backend } from './backends/s3.js';

/**
 * The backend a `TASKFORGE_STORAGE` URL names:
 * `s3://BUCKET[/PREFIX][?endpoint=URL&region=R&forcePathStyle=true]`.
 * Credentials come from the AWS SDK's usual chain (AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY, a profile, an instance role). A local server
 * (MinIO, s3rver) wants `endpoint` and `forcePathStyle=true`, which an
 * `endpoint` implies unless set to false.
 */
export function backendFromUrl(text: string, variable = 'TASKFORGE_STORAGE'): StorageBackend {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(variable, text, 'expected a URL such as s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1');
  }
  if (url.protocol !== 's3:') throw invalid(variable, text, `the scheme must be s3: (got ${url.protocol})`);
  const bucket = decodeURIComponent(url.hostname);
  if (bucket === '') throw invalid(variable, text, 'it names no bucket');
  const prefix = decodeURIComponent(url.pathname.replace(/^\/+/, ''));
  const endpoint = url.searchParams.get('endpoint') ?? undefined;
  if (endpoint !== undefined) checkEndpoint(variable, text, endpoint);
  const region = url.searchParams.get('region') ?? process.env['AWS_REGION'] ?? 'us-east-1';
  const pathStyle = url.searchParams.get('forcePathStyle');
  const forcePathStyle = pathStyle === null ? endpoint !== undefined : pathStyle === 'true';
  for (const key of url.searchParams.keys()) {
    if (!['endpoint', 'region', 'forcePathStyle'].includes(key)) throw invalid(variable, text, `unknown parameter '${key}' (known: endpoint, region, forcePathStyle)`);
  }
  return new S3Backend({ bucket, prefix, clientConfig: { region, forcePathStyle, ...(endpoint === undefined ? {} : { endpoint }) } });
}

/** An endpoint is an http(s) URL: anything else would fail only at the first request, as an internal or a passing error. */
function checkEndpoint(variable: string, text: string, endpoint: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(endpoint);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw invalid(variable, text, `endpoint must be an http:// or https:// URL such as http://127.0.0.1:9000 (got '${endpoint}')`);
  }
}

function invalid(variable: string, value: string, message: string): TaskforgeError {
  return new TaskforgeError(ErrorCode.VALIDATION_ERROR, `${variable}: ${message} (got ${JSON.stringify(value)})`, {
    details: { fields: [{ field: variable, message, received: value }] },
  });
}
