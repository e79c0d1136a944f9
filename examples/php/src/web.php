<?php
/*
 * The web page. _HANDLER=src/web.web: web() gets an API Gateway HTTP API event (payload format 2.0) and returns the
 * HTTP response as ['statusCode', 'headers', 'body'] (README, "The web page").
 *   GET  /  web/page.html, with its form
 *   POST /  the same page greeting the name the form posted
 */

declare(strict_types=1);

// Read once per execution environment, at init (a missing file fails the init, as it should).
$page = file_get_contents(__DIR__ . '/../web/page.html');
if ($page === false) {
    throw new RuntimeException('cannot read web/page.html');
}
define('WEB_PAGE', $page);

function web(array $event, LambdaContext $context): array
{
    $greeting = '';
    if (($event['requestContext']['http']['method'] ?? 'GET') === 'POST') {
        $form = $event['body'] ?? '';
        if ($event['isBase64Encoded'] ?? false) {
            $form = (string) base64_decode($form, true); // a browser's form post: API Gateway base64-encodes it
        }
        parse_str($form, $fields);
        $name = is_string($fields['name'] ?? null) ? trim($fields['name']) : '';
        if ($name !== '') {
            $greeting = '<p class="greeting">Hello, ' . htmlspecialchars($name, ENT_QUOTES | ENT_SUBSTITUTE) . '!</p>';
        }
        fwrite(STDERR, "web: greeting {$name}, request {$context->awsRequestId}\n");
    }
    return [
        'statusCode' => 200,
        'headers' => ['content-type' => 'text/html; charset=utf-8'],
        'body' => str_replace('<!-- greeting -->', $greeting, WEB_PAGE),
    ];
}
