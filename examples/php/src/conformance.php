<?php
/*
 * Conformance handler for `scaffold conform` (_HANDLER=src/conformance.conformance). It echoes every event byte for
 * byte (its first parameter is declared `string`, so it gets the raw bytes), except events that begin exactly with
 * {"conform":"<command>" (no spaces), which ask for something else:
 *   {"conform":"error","message":"boom"}  throw a RuntimeException with that message (-> /error)
 *   {"conform":"context"}                 answer {"requestId","deadlineMs","remainingMs","invokedFunctionArn",
 *                                          "traceId","xAmznTraceId","xAmznTraceIdExported","tmpdir","tenantId"}
 *   {"conform":"sleep","ms":1500}         sleep that long, then answer {"slept":1500}
 *   {"conform":"output","bytes":7000000}  answer a JSON string of that many bytes in all (e.g. to provoke a 413)
 *   {"conform":"stream","chunks":["one","two"],"delayMs":300}    stream each string as one write, delayMs between
 *   {"conform":"stream-error","chunks":["one"],"message":"boom"} stream the chunks, then throw (-> the trailers)
 *   {"conform":"stream-bytes","base64":"...","contentType":"..."} stream exactly those bytes, with that content type
 * It takes the response stream as its third parameter: the stream commands write to it (the response is streamed),
 * the others return their answer (an ordinary response).
 * conformance features: streaming, concurrency
 */

declare(strict_types=1);

function conformance(string $event, LambdaContext $context, LambdaResponseStream $stream): string
{
    if (!str_starts_with($event, '{"conform":"')) {
        return $event;
    }
    $request = json_decode($event, true);
    if (!is_array($request)) {
        return $event;
    }
    $chunks = array_map('strval', (array) ($request['chunks'] ?? []));
    switch ($request['conform']) {
        case 'error':
            fwrite(STDERR, "conformance: failing on request {$context->awsRequestId}\n");
            throw new RuntimeException((string) ($request['message'] ?? 'conformance error requested'));
        case 'context':
            return json_encode([
                'requestId' => $context->awsRequestId,
                'deadlineMs' => (string) $context->deadlineMs,
                'remainingMs' => $context->getRemainingTimeInMillis(),
                'invokedFunctionArn' => $context->invokedFunctionArn,
                'traceId' => $context->traceId,
                'xAmznTraceId' => (string) getenv('_X_AMZN_TRACE_ID'),
                'xAmznTraceIdExported' => getenv('_X_AMZN_TRACE_ID') !== false,
                'tmpdir' => (string) getenv('TMPDIR'),
                'tenantId' => $context->tenantId,
            ], JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR);
        case 'sleep':
            $ms = (int) ($request['ms'] ?? 0);
            usleep($ms * 1000);
            return json_encode(['slept' => $ms], JSON_THROW_ON_ERROR);
        case 'output':
            return '"' . str_repeat(' ', max(0, (int) ($request['bytes'] ?? 2) - 2)) . '"';
        case 'stream':
            foreach ($chunks as $i => $chunk) {
                if ($i > 0) {
                    usleep((int) ($request['delayMs'] ?? 0) * 1000);
                }
                $stream->write($chunk);
            }
            return '';
        case 'stream-error':
            foreach ($chunks as $chunk) {
                $stream->write($chunk);
            }
            throw new RuntimeException((string) ($request['message'] ?? 'conformance stream error requested'));
        case 'stream-bytes':
            if (isset($request['contentType'])) {
                $stream->setContentType((string) $request['contentType']);
            }
            $stream->write((string) base64_decode((string) ($request['base64'] ?? ''), true));
            return '';
        default:
            return $event;
    }
}
