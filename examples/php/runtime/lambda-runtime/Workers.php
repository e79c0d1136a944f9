<?php
/*
 * Lambda Managed Instances (AWS_LAMBDA_MAX_CONCURRENCY=N): N worker processes forked from the initialised runtime,
 * each with its own connection, serving one invocation at a time, so that each has a process (and
 * _X_AMZN_TRACE_ID) of its own. A worker that ends after a handler's fatal error or exit() (its invocation already
 * reported) is replaced; one that ends for any other reason (a 500, a lost Runtime API) ends the runtime. SIGTERM
 * stops every worker and whatever their handlers started.
 */

declare(strict_types=1);

final class Workers
{
    /** A worker's exit status after a handler's fatal error or exit(): fork a fresh one. */
    public const REPLACE = 70;

    /** @var array<int, true> pids of the running workers */
    private static array $pids = [];

    /** Whether this PHP can fork workers and stop them (pcntl and posix). */
    public static function available(): bool
    {
        return function_exists('pcntl_fork') && function_exists('posix_kill');
    }

    /** @param callable(): never $serve the invocation loop, run in each worker */
    public static function run(int $count, callable $serve): never
    {
        pcntl_async_signals(true);
        // Not restarted: the wait must return for PHP to run the handler.
        pcntl_signal(SIGTERM, static function (): void {
            RuntimeLog::line('SIGTERM: stopping', 'INFO');
            self::stop();
            exit(0);
        }, false);
        for ($i = 0; $i < $count; $i++) {
            self::fork($serve);
        }
        while (true) {
            $pid = pcntl_wait($status);
            if ($pid <= 0) {
                continue;  // interrupted by a signal
            }
            unset(self::$pids[$pid]);
            if (pcntl_wifexited($status) && pcntl_wexitstatus($status) === self::REPLACE) {
                self::fork($serve);
                continue;
            }
            $code = pcntl_wifexited($status) ? pcntl_wexitstatus($status) : 1;
            self::stop();
            exit($code === 0 ? 1 : $code);
        }
    }

    /** Send SIGTERM to the workers: to the whole process group when the runtime leads it, as Lambda starts it. */
    public static function stop(): void
    {
        if (posix_getpgrp() === getmypid()) {
            pcntl_signal(SIGTERM, SIG_IGN);
            posix_kill(0, SIGTERM);
            return;
        }
        foreach (array_keys(self::$pids) as $pid) {
            posix_kill($pid, SIGTERM);
        }
    }

    /** @param callable(): never $serve */
    private static function fork(callable $serve): void
    {
        $pid = pcntl_fork();
        if ($pid === -1) {
            RuntimeLog::line('cannot fork a worker: ' . pcntl_strerror(pcntl_get_last_error()));
            self::stop();
            exit(1);
        }
        if ($pid === 0) {
            self::$pids = [];
            pcntl_signal(SIGTERM, SIG_DFL);
            $serve();
        }
        self::$pids[$pid] = true;
    }
}
