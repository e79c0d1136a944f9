<?php
/*
 * What a handler learns about its invocation, besides the event (the Lambda-Runtime-* headers of /next and Lambda's
 * environment variables).
 */

declare(strict_types=1);

final class LambdaContext
{
    public function __construct(
        public readonly string $awsRequestId,
        public readonly int $deadlineMs,
        public readonly string $invokedFunctionArn,
        public readonly string $traceId,
        public readonly ?string $clientContext,
        public readonly ?string $cognitoIdentity,
        public readonly ?string $tenantId = null,
    ) {
    }

    public function getRemainingTimeInMillis(): int
    {
        return $this->deadlineMs - (int) floor(microtime(true) * 1000);
    }

    public function functionName(): string
    {
        return (string) getenv('AWS_LAMBDA_FUNCTION_NAME');
    }

    public function functionVersion(): string
    {
        return (string) getenv('AWS_LAMBDA_FUNCTION_VERSION');
    }

    public function memoryLimitInMb(): int
    {
        return (int) getenv('AWS_LAMBDA_FUNCTION_MEMORY_SIZE');
    }
}
