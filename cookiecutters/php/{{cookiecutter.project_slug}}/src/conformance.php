<?php
/*
 * Conformance handler for `scaffold conform` (_HANDLER=src/conformance.conformance). It echoes every event byte for
 * byte (its first parameter is declared `string`, so it gets the raw bytes), except events that begin exactly with
 * {"conform":"<command>" (no spaces), which ask for something else:
 *   {"conform":"error","message":"boom"}  throw a RuntimeException with that message (-> /error)
 *   {"conform":"context"}                 answer {"requestId","deadlineMs","remainingMs","invokedFunctionArn",
 *                                          "traceId","xAmznTraceId","xAmznTraceIdExported","tmpdir"} as seen here
 *   {"conform":"sleep","ms":1500}         sleep that long, then answer {"slept":1500}
 *   {"conform":"output","bytes":7000000}  answer a JSON string of that many bytes in all (e.g. to provoke a 413)
 */

declare(strict_types=1);

function conformance(string $event, LambdaContext $context): string|array
{
    if (!str_starts_with($event, '{"conform":"')) {
        return $event;
    }
    $request = json_decode($event, true);
    if (!is_array($request)) {
        return $event;
    }
    switch ($request['conform']) {
        case 'error':
            fwrite(STDERR, "conformance: failing on request {$context->awsRequestId}\n");
            throw new RuntimeException((string) ($request['message'] ?? 'conformance error requested'));
        case 'context':
            return [
                'requestId' => $context->awsRequestId,
                'deadlineMs' => (string) $context->deadlineMs,
                'remainingMs' => $context->getRemainingTimeInMillis(),
                'invokedFunctionArn' => $context->invokedFunctionArn,
                'traceId' => $context->traceId,
                'xAmznTraceId' => (string) getenv('_X_AMZN_TRACE_ID'),
                'xAmznTraceIdExported' => getenv('_X_AMZN_TRACE_ID') !== false,
                'tmpdir' => (string) getenv('TMPDIR'),
            ];
        case 'sleep':
            $ms = (int) ($request['ms'] ?? 0);
            usleep($ms * 1000);
            return ['slept' => $ms];
        case 'output':
            return '"' . str_repeat(' ', max(0, (int) ($request['bytes'] ?? 2) - 2)) . '"';
        default:
            return $event;
    }
}
