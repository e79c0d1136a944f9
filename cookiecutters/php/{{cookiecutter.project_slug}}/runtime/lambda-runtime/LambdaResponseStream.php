<?php
/*
 * A streamed response (Lambda's response streaming): what a handler with a third parameter writes to, and what the
 * runtime writes a Generator's yields to. The request's head goes out with the first chunk, so a failure before it
 * can still be an ordinary /error; each write() is one HTTP chunk, sent at once; a failure after the first byte is
 * reported in the trailers, as Lambda wants.
 */

declare(strict_types=1);

final class LambdaResponseStream
{
    private const TRAILER = 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body';

    private ?string $contentType = null;
    private bool $started = false;
    private bool $broken = false;

    /** @param list<string> $headers extra request headers (the invocation id) */
    public function __construct(
        private readonly RawHttpClient $http,
        private readonly string $resource,
        private readonly array $headers,
    ) {
    }

    /** The Content-Type the caller gets, e.g. application/vnd.awslambda.http-integration-response; before any write. */
    public function setContentType(string $contentType): void
    {
        if ($this->started) {
            RuntimeLog::line("setContentType('{$contentType}') after the first write is ignored", 'WARN');
            return;
        }
        $this->contentType = $contentType;
    }

    /** Send DATA to the caller now, as one chunk (an empty string sends nothing: it would end the stream). */
    public function write(string $data): void
    {
        if ($data === '' || $this->broken) {
            return;
        }
        $chunk = sprintf("%x\r\n", strlen($data)) . $data . "\r\n";
        $first = !$this->started;
        if ($first) {
            $this->started = true;
            $chunk = $this->head() . $chunk;
        }
        if (!$this->http->send($chunk, $first)) {
            $this->broken = true;
            RuntimeLog::line("the stream for {$this->resource} was cut off");
        }
    }

    /** @internal Whether a byte has gone out (after that, a failure can only go in the trailers). */
    public function started(): bool
    {
        return $this->started;
    }

    /**
     * @internal End the stream, with the error's trailers if ERROR_BODY is given. The reply, or null if the
     * connection failed.
     *
     * @return array{int, string}|null
     */
    public function finish(?string $errorType = null, ?string $errorBody = null): ?array
    {
        $end = "0\r\n";
        if ($errorType !== null) {
            $end .= "Lambda-Runtime-Function-Error-Type: {$errorType}\r\n"
                . 'Lambda-Runtime-Function-Error-Body: ' . base64_encode((string) $errorBody) . "\r\n";
        }
        $end .= "\r\n";
        $first = !$this->started;
        if ($first) {
            $this->started = true;
            $end = $this->head() . $end;
        }
        if ($this->broken || !$this->http->send($end, $first)) {
            return null;
        }
        return $this->http->reply();
    }

    private function head(): string
    {
        $headers = ['Lambda-Runtime-Function-Response-Mode: streaming', 'Transfer-Encoding: chunked',
            'Trailer: ' . self::TRAILER, ...$this->headers];
        if ($this->contentType !== null) {
            $headers[] = "Content-Type: {$this->contentType}";
        }
        return $this->http->head($this->resource, $headers);
    }
}
