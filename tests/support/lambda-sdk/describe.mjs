// Reads a function's description through the JavaScript SDK's Lambda client, as SDK-based tools do before they
// invoke: node describe.mjs ENDPOINT FUNCTION. Prints one JSON document of what the client parsed.
import {
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  LambdaClient,
  paginateListFunctions,
} from "@aws-sdk/client-lambda";

const [endpoint, name] = process.argv.slice(2);
const client = new LambdaClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  maxAttempts: 1,
});

async function failure(command) {
  try {
    await client.send(command);
    return null;
  } catch (error) {
    return { name: error.name, status: error.$metadata?.httpStatusCode, message: error.message };
  }
}

const pages = [];
for await (const page of paginateListFunctions({ client, pageSize: 2 }, {})) {
  pages.push(page.Functions.map((item) => item.FunctionName));
}
const { $metadata: _a, ...configuration } = await client.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
const { $metadata: _b, ...described } = await client.send(new GetFunctionCommand({ FunctionName: name, Qualifier: "$LATEST" }));
console.log(JSON.stringify({
  configuration,
  function: described,
  pages,
  missing: await failure(new GetFunctionCommand({ FunctionName: "nope" })),
  alias: await failure(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier: "prod" })),
}));
