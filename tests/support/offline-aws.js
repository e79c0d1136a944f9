// Preloaded into the Serverless Framework (NODE_OPTIONS=--require) by the packaging tests.
//
// `serverless package` on a project with `layers:` asks CloudFormation (describeStacks) whether the stack exists,
// to skip re-uploading an unchanged layer, and carries on only when the answer says the stack does not exist. With
// no network that call would hang in retries, so this hook answers it at once with that very error, and refuses
// every other AWS call the same way. Nothing else is replaced: the zips and the CloudFormation template are the
// Framework's own output.
//
// Serverless v3 and osls 3 call AWS through the AWS SDK v2 (`aws-sdk`, one global `build` event for every
// request); osls 4 through the SDK v3, one `@aws-sdk/client-<service>` package per service, each client's `send`
// taking a command object. Both are covered, and answer the same way.
'use strict';
const fs = require('fs');
const Module = require('module');
const originalLoad = Module._load;
let hookedV2 = false;
const hookedV3 = new WeakSet();

const MISSING_STACK = 'Stack with id offline does not exist';

// Tests that must prove no AWS call was even attempted set RUNTIME_SCAFFOLD_AWS_LOG: each operation is appended to
// it as `<service>.<operation>` (`cloudformation.describeStacks`), in the SDK v2 spelling whichever SDK made it.
function logCall(service, operation) {
  const log = process.env.RUNTIME_SCAFFOLD_AWS_LOG;
  if (log) fs.appendFileSync(log, `${service}.${operation}\n`);
}

function refusal(operation) {
  return operation === 'describeStacks'
    ? MISSING_STACK
    : `runtime-scaffold tests run offline: AWS ${operation} is not reachable`;
}

function refuseAwsSdkV2Calls(AWS) {
  AWS.events.on('build', (request) => {
    logCall(request.service.serviceIdentifier, request.operation);
    request.removeAllListeners('send');
    request.on('send', (response) => {
      const error = new Error(refusal(request.operation));
      error.code = 'ValidationError';
      error.statusCode = 400;
      error.retryable = false;
      response.error = error;
      response.httpResponse.statusCode = 400;
    });
  });
}

// An SDK v3 service error as the client would have parsed it from a 400 reply: the service's own exception class
// (CloudFormation's missing stack is its generic exception named ValidationError), with the reply's metadata.
function serviceError(exports, operation) {
  const ServiceException = Object.entries(exports).find(([name]) => name.endsWith('ServiceException'));
  const fields = {
    name: 'ValidationError',
    $fault: 'client',
    $metadata: { httpStatusCode: 400, attempts: 1, totalRetryDelay: 0 },
    message: refusal(operation),
  };
  if (ServiceException) return new ServiceException[1](fields);
  return Object.assign(new Error(fields.message), fields);
}

function refuseAwsSdkV3Calls(exports) {
  for (const [name, Client] of Object.entries(exports)) {
    if (!name.endsWith('Client') || typeof Client !== 'function' || hookedV3.has(Client)) continue;
    if (!Client.prototype || typeof Client.prototype.send !== 'function') continue;
    hookedV3.add(Client);
    Client.prototype.send = function send(command, optionsOrCallback, callback) {
      const service = String((this.config && this.config.serviceId) || name.replace(/Client$/, '')).toLowerCase();
      const commandName = command && command.constructor ? command.constructor.name.replace(/Command$/, '') : '';
      const operation = commandName.charAt(0).toLowerCase() + commandName.slice(1);
      logCall(service.replace(/\s+/g, ''), operation);
      const error = serviceError(exports, operation);
      const done = typeof optionsOrCallback === 'function' ? optionsOrCallback : callback;
      if (typeof done === 'function') {
        process.nextTick(() => done(error));
        return undefined;
      }
      return Promise.reject(error);
    };
  }
}

Module._load = function load(request) {
  const exported = originalLoad.apply(this, arguments);
  if (!hookedV2 && request === 'aws-sdk' && exported && exported.events) {
    hookedV2 = true;
    refuseAwsSdkV2Calls(exported);
  } else if (typeof request === 'string' && request.startsWith('@aws-sdk/client-') && exported) {
    refuseAwsSdkV3Calls(exported);
  }
  return exported;
};
