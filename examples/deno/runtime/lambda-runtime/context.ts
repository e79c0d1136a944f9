// The context object a handler gets, as Lambda's Node.js runtime builds it, from one /next reply and the
// environment. Headers Lambda may leave out (trace id, client context, Cognito identity, tenant id) stay optional:
// their absence is never an error.

import { env } from "./platform.ts";


export interface Context {
  awsRequestId: string;
  invokedFunctionArn: string;
  functionName: string;
  functionVersion: string;
  memoryLimitInMB: string;
  logGroupName: string;
  logStreamName: string;
  /** Kept for code written for older runtimes; async handlers answer when their promise settles, so it has no effect. */
  callbackWaitsForEmptyEventLoop: boolean;
  /** The Lambda-Runtime-Deadline-Ms header: the deadline in epoch milliseconds. */
  deadlineMs: number;
  /** X-Ray trace header of this invocation (also _X_AMZN_TRACE_ID when one invocation runs at a time). */
  xRayTraceId: string | undefined;
  /** Lambda-Runtime-Aws-Tenant-Id, when the function is invoked for a tenant. */
  tenantId: string | undefined;
  /** Lambda-Runtime-Invocation-Id: this attempt of the invocation (a retry gets a new one). */
  invocationId: string | undefined;
  identity: unknown;
  clientContext: unknown;
  getRemainingTimeInMillis(): number;
}

function header(headers: Record<string, string>, name: string): string | undefined {
  return headers[name] || undefined;
}

function parsedHeader(headers: Record<string, string>, name: string): unknown {
  const value = header(headers, name);
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return value; // not JSON: the handler gets the text rather than an invocation that fails
  }
}

// Read once: Lambda sets them before the runtime starts, and they do not change.
const FROM_ENVIRONMENT = {
  functionName: env.get("AWS_LAMBDA_FUNCTION_NAME") ?? "",
  functionVersion: env.get("AWS_LAMBDA_FUNCTION_VERSION") ?? "",
  memoryLimitInMB: env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") ?? "",
  logGroupName: env.get("AWS_LAMBDA_LOG_GROUP_NAME") ?? "",
  logStreamName: env.get("AWS_LAMBDA_LOG_STREAM_NAME") ?? "",
};

export function buildContext(requestId: string, headers: Record<string, string>): Context {
  const deadlineMs = Number(header(headers, "lambda-runtime-deadline-ms") ?? 0);
  return {
    awsRequestId: requestId,
    invokedFunctionArn: header(headers, "lambda-runtime-invoked-function-arn") ?? "",
    ...FROM_ENVIRONMENT,
    callbackWaitsForEmptyEventLoop: true,
    deadlineMs,
    xRayTraceId: header(headers, "lambda-runtime-trace-id"),
    tenantId: header(headers, "lambda-runtime-aws-tenant-id"),
    invocationId: header(headers, "lambda-runtime-invocation-id"),
    identity: parsedHeader(headers, "lambda-runtime-cognito-identity"),
    clientContext: parsedHeader(headers, "lambda-runtime-client-context"),
    getRemainingTimeInMillis: () => deadlineMs - Date.now(),
  };
}
