<?php
/*
 * HTTP/1.1 over a plain PHP socket, for what curl cannot do from PHP: a request body sent a chunk at a time as the
 * handler produces it, ended by trailers (PHP's curl binding has no trailer callback), and reporting an init error when
 * the curl extension itself is missing. TCP_NODELAY is set and every chunk is one fwrite, so nothing waits on Nagle.
 */

declare(strict_types=1);

final class RawHttpClient
{
    /** @var resource|null */
    private $socket = null;
    private readonly string $hostPort;
    private readonly string $prefix;

    public function __construct(string $api)
    {
        // AWS's clients build http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/...: the value may carry a path prefix.
        $slash = strpos($api, '/');
        $this->hostPort = $slash === false ? $api : substr($api, 0, $slash);
        $this->prefix = $slash === false ? '' : rtrim(substr($api, $slash), '/');
    }

    /** Forget the socket: a forked worker must open its own connection, not share its parent's. */
    public function reset(): void
    {
        $this->socket = null;
    }

    /**
     * The head of a POST to a Runtime API resource.
     *
     * @param list<string> $headers "Name: value"
     */
    public function head(string $resource, array $headers): string
    {
        $lines = ["POST {$this->prefix}/2018-06-01/runtime/{$resource} HTTP/1.1", "Host: {$this->hostPort}",
            ...$headers];
        return implode("\r\n", $lines) . "\r\n\r\n";
    }

    /** Write DATA on the current connection (a new one when there is none or it was closed). */
    public function send(string $data, bool $fresh): bool
    {
        if ($fresh && ($this->socket === null || feof($this->socket))) {
            $this->socket = null;
            $context = stream_context_create(['socket' => ['tcp_nodelay' => true]]);
            $socket = @stream_socket_client("tcp://{$this->hostPort}", $errno, $error, 10,
                STREAM_CLIENT_CONNECT, $context);
            if ($socket === false) {
                RuntimeLog::line("cannot connect to the Runtime API at {$this->hostPort}: {$error}");
                return false;
            }
            stream_set_timeout($socket, 300);
            $this->socket = $socket;
        }
        if ($this->socket === null) {
            return false;
        }
        for ($offset = 0, $length = strlen($data); $offset < $length; $offset += $written) {
            $written = @fwrite($this->socket, substr($data, $offset));
            if ($written === false || $written === 0) {
                $this->socket = null;
                return false;
            }
        }
        return true;
    }

    /**
     * Read one reply: its status and body, or null when the connection failed.
     *
     * @return array{int, string}|null
     */
    public function reply(): ?array
    {
        $socket = $this->socket;
        $line = $socket === null ? false : fgets($socket);
        if ($socket === null || $line === false || !preg_match('#^HTTP/1\.([01]) (\d{3})#', $line, $m)) {
            $this->socket = null;
            return null;
        }
        $status = (int) $m[2];
        $close = $m[1] === '0';
        $length = 0;
        $chunked = false;
        while (($line = fgets($socket)) !== false && rtrim($line, "\r\n") !== '') {
            [$name, $value] = array_map('trim', explode(':', $line, 2) + [1 => '']);
            match (strtolower($name)) {
                'content-length' => $length = (int) $value,
                'transfer-encoding' => $chunked = str_contains(strtolower($value), 'chunked'),
                'connection' => $close = $close || str_contains(strtolower($value), 'close'),
                default => null,
            };
        }
        $body = '';
        if ($chunked) {
            while (($size = hexdec(trim((string) fgets($socket)))) > 0) {
                $body .= (string) stream_get_contents($socket, (int) $size);
                fgets($socket);
            }
            while (($line = fgets($socket)) !== false && rtrim($line, "\r\n") !== '') {
                // trailers: none expected from the Runtime API
            }
        } elseif ($length > 0) {
            $body = (string) stream_get_contents($socket, $length);
        }
        if ($close || feof($socket)) {
            $this->socket = null;
        }
        return [$status, $body];
    }

    /**
     * One POST with a Content-Length body on a fresh or kept connection.
     *
     * @param list<string> $headers
     * @return array{int, string}|null
     */
    public function post(string $resource, array $headers, string $body): ?array
    {
        $head = $this->head($resource, [...$headers, 'Content-Length: ' . strlen($body)]);
        return $this->send($head . $body, true) ? $this->reply() : null;
    }
}
