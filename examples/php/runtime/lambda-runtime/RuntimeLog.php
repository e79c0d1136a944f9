<?php
/*
 * The runtime's own log lines, on stderr: "bootstrap: <message>", or under Managed Instances
 * (AWS_LAMBDA_LOG_FORMAT=JSON) one JSON object per line with the request id of the invocation in flight.
 */

declare(strict_types=1);

final class RuntimeLog
{
    public static bool $json = false;
    public static string $requestId = '';

    public static function line(string $message, string $level = 'ERROR'): void
    {
        if (!self::$json) {
            fwrite(STDERR, "bootstrap: {$message}\n");
            return;
        }
        $now = DateTimeImmutable::createFromFormat('U.u', sprintf('%.6F', microtime(true)));
        $record = [
            'timestamp' => $now === false ? gmdate('Y-m-d\TH:i:s\Z') : $now->format('Y-m-d\TH:i:s.v\Z'),
            'level' => $level,
            'message' => $message,
        ];
        if (self::$requestId !== '') {
            $record['requestId'] = self::$requestId;
        }
        fwrite(STDERR, json_encode($record, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE) . "\n");
    }
}
