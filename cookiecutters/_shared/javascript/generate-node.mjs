// Writes the Node template's JavaScript from the one TypeScript source of the runtime (and of the conformance
// handler), with Node's own type stripping: types become blanks, so every line and column stays where it is in the
// .ts file. Why Node does not run the .ts itself: stripping at run time loads a WebAssembly TypeScript parser,
// measured at about 60 ms of CPU at every cold start on Node 26, more than Node's own start-up.
//
//   node cookiecutters/_shared/javascript/generate-node.mjs     (Node >= 23.2; the tests use the pinned Node 26)
//
// tests/test_javascript_runtime.py fails when the committed files differ from what this writes.

import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const shared = dirname(fileURLToPath(import.meta.url));
const cookiecutters = join(shared, "..", "..");
const project = join(cookiecutters, "node", "{{cookiecutter.project_slug}}");
const runtimeSource = join(shared, "lambda-runtime");
const runtimeTarget = join(project, "runtime", "lambda-runtime");

function generate(source, target) {
  const typescript = readFileSync(source, "utf8");
  const javascript = stripTypeScriptTypes(typescript, { mode: "strip" })
    // Relative imports name the generated files; `import type` lines are gone already.
    .replace(/(from\s+"\.{1,2}\/[^"]+)\.ts"/g, '$1.mjs"')
    .replace(/[ \t]+$/gm, "");
  const origin = relative(cookiecutters, source);
  writeFileSync(target, `// Generated from cookiecutters/${origin} by generate-node.mjs: edit that file, not this one.\n`
    + javascript);
}

rmSync(runtimeTarget, { recursive: true, force: true });
mkdirSync(runtimeTarget, { recursive: true });
for (const name of readdirSync(runtimeSource).filter((name) => name.endsWith(".ts")).sort()) {
  generate(join(runtimeSource, name), join(runtimeTarget, name.replace(/\.ts$/, ".mjs")));
}
generate(join(shared, "handlers", "conformance.ts"), join(project, "src", "conformance.mjs"));
