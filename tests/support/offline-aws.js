// Preloaded into the Serverless Framework (NODE_OPTIONS=--require) by the packaging tests.
//
// `serverless package` on a project with `layers:` asks CloudFormation (describeStacks) whether the stack exists,
// to skip re-uploading an unchanged layer, and carries on only when the answer says the stack does not exist. With
// no network that call would hang in retries, so this hook answers it at once with that very error. Nothing else is
// replaced: the zips and the CloudFormation template are the Framework's own output.
'use strict';
const fs = require('fs');
const Module = require('module');
const originalLoad = Module._load;
let hooked = false;

// Tests that must prove no AWS call was even attempted set RUNTIME_SCAFFOLD_AWS_LOG: each operation is appended to it.
function logCall(request) {
  const log = process.env.RUNTIME_SCAFFOLD_AWS_LOG;
  if (log) fs.appendFileSync(log, `${request.service.serviceIdentifier}.${request.operation}\n`);
}

function refuseAwsCalls(AWS) {
  AWS.events.on('build', (request) => {
    logCall(request);
    request.removeAllListeners('send');
    request.on('send', (response) => {
      const op = request.operation;
      const message = op === 'describeStacks'
        ? 'Stack with id offline does not exist'
        : `runtime-scaffold tests run offline: AWS ${op} is not reachable`;
      const error = new Error(message);
      error.code = 'ValidationError';
      error.statusCode = 400;
      error.retryable = false;
      response.error = error;
      response.httpResponse.statusCode = 400;
    });
  });
}

Module._load = function load(request, parent, isMain) {
  const exported = originalLoad.apply(this, arguments);
  if (!hooked && request === 'aws-sdk' && exported && exported.events) {
    hooked = true;
    refuseAwsCalls(exported);
  }
  return exported;
};
