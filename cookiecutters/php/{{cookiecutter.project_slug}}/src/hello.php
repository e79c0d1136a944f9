<?php
/*
 * Sample handler. _HANDLER=src/hello.hello: runtime/bootstrap loads this file once at init (top-level code runs once
 * per sandbox; create clients and caches here) and calls hello() once per event.
 *   $event:   the event, decoded from JSON into arrays (declare the parameter `string $event` for the raw bytes)
 *   $context: LambdaContext: awsRequestId, deadlineMs, invokedFunctionArn, traceId, getRemainingTimeInMillis()
 *   return:   the response; a string is sent as it is, anything else as JSON
 *   throw:    the invocation fails with the exception's class and message
 * Example: {"name": "World"} -> {"message":"Hello, World!"}
 */

declare(strict_types=1);

function hello(mixed $event, LambdaContext $context): array
{
    $name = is_array($event) ? ($event['name'] ?? null) : null;
    if (!is_string($name)) {
        throw new InvalidArgumentException('the event has no "name" string, e.g. {"name": "World"}');
    }
    fwrite(STDERR, "greeting {$name} (request {$context->awsRequestId})\n");
    return ['message' => "Hello, {$name}!"];
}
