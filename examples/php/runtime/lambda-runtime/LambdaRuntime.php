<?php
/*
 * The runtime's life: load the handler once (init), then serve invocations one at a time in this process: context,
 * handler call, response (buffered, or streamed for a handler that takes a LambdaResponseStream or returns a
 * Generator) or error. Bodies are PHP strings, which are binary-safe: events and responses go through byte for byte.
 * A fatal error or exit() in the handler still reports the invocation (or init) as failed before the process ends.
 */

declare(strict_types=1);

final class LambdaRuntime
{
    private const JSON_OUT = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION;

    /** @var callable */
    private $handler;
    private bool $rawEvent = false;
    private bool $takesStream = false;
    /** Request id of the invocation in flight (no response or error posted yet), '' between invocations. */
    private string $inFlight = '';
    private string $invocationId = '';
    private ?LambdaResponseStream $stream = null;
    private bool $initialised = false;
    private bool $terminating = false;
    /** Exit status after a fatal error in a handler: a worker of several is replaced, a lone runtime restarted. */
    public int $fatalExit = 1;

    public function __construct(private readonly RuntimeApiClient $api, private readonly RawHttpClient $http)
    {
    }

    /** A forked worker: new connections of its own. */
    public function forked(): void
    {
        $this->api->reset();
        $this->http->reset();
        $this->fatalExit = Workers::REPLACE;
    }

    /** Load the handler file named by _HANDLER (FILE.FUNCTION) from LAMBDA_TASK_ROOT, once. */
    public function init(): void
    {
        register_shutdown_function(function (): void {
            $this->onShutdown();
        });
        $root = getenv('LAMBDA_TASK_ROOT');
        if ($root === false || $root === '') {
            $this->initFailed('Runtime.InvalidTaskConfig', 'LAMBDA_TASK_ROOT is not set');
        }
        $name = (string) getenv('_HANDLER');
        if (!preg_match('/^([^.].*)\.([A-Za-z_][A-Za-z0-9_]*)$/', $name, $m)) {
            $this->initFailed('Runtime.MalformedHandlerName', "_HANDLER '{$name}' is not FILE.FUNCTION "
                . '(e.g. src/hello.hello for src/hello.php defining function hello)');
        }
        $file = "{$root}/{$m[1]}.php";
        if (!is_file($file)) {
            $this->initFailed('Runtime.ImportModuleError', "handler file {$file} does not exist");
        }
        try {
            (static function (string $file): void {
                require_once $file;
            })($file);
        } catch (\Throwable $e) {
            $this->initFailed('Runtime.ImportModuleError', "cannot load {$file}: " . get_class($e) . ': '
                . $e->getMessage(), self::trace($e));
        }
        if (!function_exists($m[2])) {
            $this->initFailed('Runtime.HandlerNotFound', "{$file} does not define a function named {$m[2]}");
        }
        $this->handler = $m[2];
        $parameters = (new \ReflectionFunction($m[2]))->getParameters();
        // A first parameter declared `string` gets the raw event bytes instead of decoded JSON; a third one gets the
        // response stream.
        $type = ($parameters[0] ?? null)?->getType();
        $this->rawEvent = $type instanceof \ReflectionNamedType && $type->getName() === 'string';
        $this->takesStream = count($parameters) >= 3;
        $this->initialised = true;
    }

    /** @param list<string> $trace */
    private function initFailed(string $type, string $message, array $trace = []): never
    {
        RuntimeLog::line("init failed: {$type}: {$message}");
        $this->initialised = true; // reported: the shutdown hook must not report it again
        $this->api->call('POST', 'init/error', self::errorBody($type, $message, $trace),
            ["Lambda-Runtime-Function-Error-Type: {$type}"]);
        exit(1);
    }

    /** @param list<string> $trace */
    public static function errorBody(string $type, string $message, array $trace): string
    {
        return (string) json_encode(
            ['errorMessage' => $message, 'errorType' => $type, 'stackTrace' => $trace],
            self::JSON_OUT | JSON_INVALID_UTF8_SUBSTITUTE | JSON_PARTIAL_OUTPUT_ON_ERROR,
        );
    }

    /** @return list<string> */
    private static function trace(\Throwable $e): array
    {
        return array_merge(["{$e->getFile()}:{$e->getLine()}"], explode("\n", $e->getTraceAsString()));
    }

    public function loop(): never
    {
        while (true) {
            [$status, $event] = $this->api->call('GET', 'invocation/next');
            $h = $this->api->replyHeaders;
            $id = $h['lambda-runtime-aws-request-id'] ?? '';
            if ($status !== 200 || $id === '') {
                RuntimeLog::line("GET invocation/next returned {$status} (request id '{$id}'), exiting");
                exit(1);
            }
            $this->invoke($id, $event, $h);
        }
    }

    /** @param array<string, string> $h the /next reply's headers */
    private function invoke(string $id, string $event, array $h): void
    {
        RuntimeLog::$requestId = $id;
        $this->invocationId = $h['lambda-runtime-invocation-id'] ?? '';
        // Under Managed Instances each invocation has a process of its own: the variable is never shared.
        $trace = $h['lambda-runtime-trace-id'] ?? '';
        if ($trace !== '') {
            putenv("_X_AMZN_TRACE_ID={$trace}");
            $_ENV['_X_AMZN_TRACE_ID'] = $_SERVER['_X_AMZN_TRACE_ID'] = $trace;
        } else {
            putenv('_X_AMZN_TRACE_ID');
            unset($_ENV['_X_AMZN_TRACE_ID'], $_SERVER['_X_AMZN_TRACE_ID']);
        }
        $context = new LambdaContext(
            $id,
            (int) ($h['lambda-runtime-deadline-ms'] ?? 0),
            $h['lambda-runtime-invoked-function-arn'] ?? '',
            $trace,
            $h['lambda-runtime-client-context'] ?? null,
            $h['lambda-runtime-cognito-identity'] ?? null,
            $h['lambda-runtime-aws-tenant-id'] ?? null,
        );
        $this->inFlight = $id;
        $this->stream = null;
        $this->guardSignals(true);
        try {
            $input = $event;
            if (!$this->rawEvent) {
                try {
                    $input = json_decode($event, true, 512, JSON_THROW_ON_ERROR);
                } catch (\JsonException) {
                    $input = $event; // not JSON: the handler gets the bytes
                }
            }
            if ($this->takesStream) {
                $this->stream = $this->newStream($id);
                $result = ($this->handler)($input, $context, $this->stream);
            } else {
                $result = ($this->handler)($input, $context);
            }
            if ($result instanceof \Generator) {
                $this->stream ??= $this->newStream($id);
                foreach ($result as $chunk) {
                    $this->stream->write(is_string($chunk) ? $chunk : self::json($chunk));
                }
                $result = '';
            }
            // Streamed once something was written; otherwise the return value is an ordinary response.
            $streamed = $this->stream !== null && $this->stream->started();
            $body = $streamed || is_string($result) ? (string) $result : self::json($result);
        } catch (\Throwable $e) {
            $this->guardSignals(false);
            $this->fail($id, $e);
            return;
        }
        $this->guardSignals(false);
        $this->inFlight = '';
        if ($streamed) {
            $this->outcome('POST response', $id, $this->stream->finish());
        } else {
            $this->outcome('POST response', $id,
                $this->api->call('POST', "invocation/{$id}/response", $body, $this->idHeaders()));
        }
        RuntimeLog::$requestId = '';
    }

    private static function json(mixed $value): string
    {
        return json_encode($value, self::JSON_OUT | JSON_THROW_ON_ERROR);
    }

    private function newStream(string $id): LambdaResponseStream
    {
        return new LambdaResponseStream($this->http, "invocation/{$id}/response", $this->idHeaders());
    }

    /** @return list<string> the current attempt's id, so that Lambda can refuse a post for a stale one (410) */
    private function idHeaders(): array
    {
        return $this->invocationId === '' ? [] : ["Lambda-Runtime-Invocation-Id: {$this->invocationId}"];
    }

    /**
     * Log a post's reply unless it is 202. A 413 or 410 ends the invocation: nothing more is posted for it; a 5xx ends
     * the runtime (the container is broken).
     *
     * @param array{int, string}|null $reply
     */
    private function outcome(string $what, string $id, ?array $reply): void
    {
        [$status, $body] = $reply ?? [0, 'the connection was lost'];
        if ($status >= 500) {
            RuntimeLog::line("{$what} for {$id} returned {$status}, exiting: {$body}");
            exit(1);
        }
        match ($status) {
            202 => null,
            413 => RuntimeLog::line("{$what} for {$id} is too large: {$body}"),
            410 => RuntimeLog::line("{$what} for {$id} refused, its attempt is over: {$body}", 'WARN'),
            default => RuntimeLog::line("{$what} for {$id} returned {$status}: {$body}"),
        };
    }

    /** The handler threw: before any streamed byte, /error; after one, the stream's trailers. */
    private function fail(string $id, \Throwable $e): void
    {
        $this->inFlight = '';
        $class = get_class($e);
        $short = substr($class, (int) strrpos('\\' . $class, '\\'));
        RuntimeLog::line("invocation {$id} failed: {$class}: {$e->getMessage()}");
        $body = self::errorBody($short, $e->getMessage(), self::trace($e));
        if ($this->stream !== null && $this->stream->started()) {
            $this->outcome('POST response', $id, $this->stream->finish("Function.{$short}", $body));
        } else {
            $this->outcome('POST error', $id, $this->api->call('POST', "invocation/{$id}/error", $body,
                ["Lambda-Runtime-Function-Error-Type: Function.{$short}", ...$this->idHeaders()]));
        }
        RuntimeLog::$requestId = '';
    }

    /**
     * SIGTERM while a handler runs stops it and what it started (PHP runs the signal handler between opcodes, so
     * this is only armed around the handler: while curl waits for /next, SIGTERM's default ends the process at once).
     */
    private function guardSignals(bool $armed): void
    {
        if (!function_exists('pcntl_signal')) {
            return;
        }
        pcntl_signal(SIGTERM, $armed ? function (): void {
            $this->terminating = true;
            if ($this->fatalExit !== Workers::REPLACE) {  // a worker's parent says it already
                RuntimeLog::line('SIGTERM: stopping', 'INFO');
            }
            if (function_exists('posix_kill') && posix_getpgrp() === getmypid()) {
                pcntl_signal(SIGTERM, SIG_IGN);
                posix_kill(0, SIGTERM);
            }
            exit(0);
        } : SIG_DFL, false);
    }

    /** exit() or a fatal error in user code: report it, so that the invocation (or init) does not just vanish. */
    private function onShutdown(): void
    {
        if ($this->terminating) {
            return;
        }
        $error = error_get_last();
        $fatal = $error !== null && ($error['type'] & (E_ERROR | E_PARSE | E_CORE_ERROR | E_COMPILE_ERROR)) !== 0;
        $message = $fatal ? "{$error['message']} in {$error['file']}:{$error['line']}" : 'exit() was called';
        $type = $fatal ? 'FatalError' : 'Exit';
        if (!$this->initialised) {
            $this->initialised = true;
            RuntimeLog::line("init failed: {$message}");
            $this->api->call('POST', 'init/error', self::errorBody("Runtime.{$type}", $message, []),
                ["Lambda-Runtime-Function-Error-Type: Runtime.{$type}"]);
            exit(1);
        }
        if ($this->inFlight !== '') {
            $id = $this->inFlight;
            $this->inFlight = '';
            RuntimeLog::line("invocation {$id} failed: {$message}");
            $body = self::errorBody($type, $message, []);
            if ($this->stream !== null && $this->stream->started()) {
                $this->stream->finish("Function.{$type}", $body);
            } else {
                $this->api->call('POST', "invocation/{$id}/error", $body,
                    ["Lambda-Runtime-Function-Error-Type: Function.{$type}", ...$this->idHeaders()]);
            }
            exit($this->fatalExit);
        }
    }
}
