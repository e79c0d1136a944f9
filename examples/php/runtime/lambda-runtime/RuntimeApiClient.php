<?php
/*
 * The Runtime API over PHP's curl extension: one curl handle per process, so every request reuses one keep-alive
 * connection. No timeout: GET /next may wait for hours while the sandbox is frozen. A keep-alive connection dropped
 * while idle is reopened once; a Runtime API that cannot be reached, or that answers 5xx (the container is broken),
 * ends the runtime.
 */

declare(strict_types=1);

final class RuntimeApiClient
{
    /** @var array<string, string> headers of the last reply, lower-case names */
    public array $replyHeaders = [];
    private ?CurlHandle $curl = null;

    public function __construct(private readonly string $base)
    {
    }

    /** Forget the handle: a forked worker must open its own connection, not share its parent's. */
    public function reset(): void
    {
        $this->curl = null;
    }

    private function handle(): CurlHandle
    {
        if ($this->curl !== null) {
            return $this->curl;
        }
        $curl = curl_init();
        if ($curl === false) {
            RuntimeLog::line('cannot create a curl handle');
            exit(1);
        }
        curl_setopt_array($curl, [
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_HTTP_VERSION => CURL_HTTP_VERSION_1_1,
            CURLOPT_TIMEOUT_MS => 0,          // no timeout at all: GET /next may wait for hours
            CURLOPT_NOSIGNAL => true,
            CURLOPT_TCP_NODELAY => true,
            CURLOPT_HEADERFUNCTION => function ($curl, string $line): int {
                $colon = strpos($line, ':');
                if ($colon !== false) {
                    $this->replyHeaders[strtolower(substr($line, 0, $colon))] = trim(substr($line, $colon + 1));
                }
                return strlen($line);
            },
        ]);
        return $this->curl = $curl;
    }

    /**
     * One request. Returns the status and the body.
     *
     * @param list<string> $headers
     * @return array{int, string}
     */
    public function call(string $method, string $resource, ?string $body = null, array $headers = []): array
    {
        $curl = $this->handle();
        curl_setopt($curl, CURLOPT_URL, $this->base . $resource);
        if ($method === 'GET') {
            curl_setopt($curl, CURLOPT_HTTPGET, true);
            curl_setopt($curl, CURLOPT_HTTPHEADER, []);
        } else {
            curl_setopt($curl, CURLOPT_POST, true);
            curl_setopt($curl, CURLOPT_POSTFIELDS, $body ?? '');
            // "Expect:" stops curl from waiting for 100-continue on large bodies; "Content-Type:" stops it from
            // labelling the bytes as a form.
            curl_setopt($curl, CURLOPT_HTTPHEADER, array_merge(['Expect:', 'Content-Type:'], $headers));
        }
        for ($attempt = 1; ; $attempt++) {
            $this->replyHeaders = [];
            $reply = curl_exec($curl);
            if (is_string($reply)) {
                break;
            }
            if ($attempt === 2) {
                RuntimeLog::line("lost the Runtime API during {$method} {$resource}: " . curl_error($curl));
                exit(1);
            }
        }
        $status = (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        if ($status >= 500) {
            RuntimeLog::line("{$method} {$resource} returned {$status}, exiting: {$reply}");
            exit(1);
        }
        return [$status, $reply];
    }
}
