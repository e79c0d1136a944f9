// Writes the Node template's JavaScript from the one TypeScript source of the runtime (and of the conformance
// and web handlers), with Node's own type stripping (types become blanks, so each line keeps its place in its module).
//
//   node cookiecutters/_shared/javascript/generate-node.mjs     (Node >= 23.2; the tests use the pinned Node 26)
//
// Why Node does not run the .ts files itself: stripping at run time loads a WebAssembly TypeScript parser,
// measured at about 60 ms of CPU at every cold start on Node 26, more than Node's own start-up. Why the runtime's
// modules become one file: loading ten ES modules cost Node 26 about 10 ms more of a 60 ms cold start than one.
// Each module keeps its own scope (a function), so names cannot clash; `import { a } from "./m.ts"` becomes
// `const { a } = module_m;` and the module's exports are what its function returns.
//
// tests/test_javascript_runtime.py fails when the committed files differ from what this writes.

import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const shared = dirname(fileURLToPath(import.meta.url));
const project = join(shared, "..", "..", "node", "{{cookiecutter.project_slug}}");
const runtimeSource = join(shared, "lambda-runtime");
const runtimeTarget = join(project, "runtime", "lambda-runtime");
const LOCAL_IMPORT = /^import \{ ([^}]+) \} from "\.\/([\w-]+)\.ts";$/gm;
const EXPORTED = /^export (?:async function\*?|function\*?|const|let|class) (\w+)/gm;

function stripped(file) {
  return stripTypeScriptTypes(readFileSync(file, "utf8"), { mode: "strip" }).replace(/[ \t]+$/gm, "");
}

const scope = (name) => `module_${name.replace(/-/g, "_")}`;

function bundle(entry) {
  const modules = new Map();
  for (const file of readdirSync(runtimeSource).filter((name) => name.endsWith(".ts")).sort()) {
    const code = stripped(join(runtimeSource, file));
    modules.set(file.replace(/\.ts$/, ""), {
      code,
      imports: [...code.matchAll(LOCAL_IMPORT)].map((match) => match[2]),
      exports: [...code.matchAll(EXPORTED)].map((match) => match[1]),
    });
  }
  const order = [];
  const visit = (name, path = []) => {
    if (path.includes(name)) throw new Error(`import cycle: ${[...path, name].join(" -> ")}`);
    if (order.includes(name)) return;
    modules.get(name).imports.forEach((dependency) => visit(dependency, [...path, name]));
    order.push(name);
  };
  visit(entry);
  let text = "// Generated from cookiecutters/_shared/javascript/lambda-runtime/*.ts by generate-node.mjs: edit those "
    + "files, not this one.\n";
  for (const name of order) {
    const { code, exports } = modules.get(name);
    const body = code
      .replace(LOCAL_IMPORT, (_, names, from) => `const { ${names} } = ${scope(from)};`)
      .replace(/^export (?=(?:async function|function|const|let|class) )/gm, "");
    text += name === entry
      ? `\n// ---- ${name}.ts\n${body}`
      : `\n// ---- ${name}.ts\nconst ${scope(name)} = await (async () => {\n${body}\nreturn { ${exports.join(", ")} };\n})();\n`;
  }
  return text;
}

rmSync(runtimeTarget, { recursive: true, force: true });
mkdirSync(runtimeTarget, { recursive: true });
writeFileSync(join(runtimeTarget, "index.mjs"), bundle("index"));
// The handlers are sample code a user reads and edits as JavaScript, where line places do not matter: the blanks
// that stripped types leave (`(text        )`, the lines of an interface) are taken out.
const tidy = (code) => code
  .replace(/(?<=[\w)\]]) {2,}(?=[),;])/g, "")
  .replace(/(?<=[\w)\]]) {2,}(?=[{=])/g, " ")
  .replace(/\n{3,}/g, "\n\n");
for (const handler of ["conformance", "web"]) {
  writeFileSync(join(project, "src", `${handler}.mjs`),
    `// Generated from cookiecutters/_shared/javascript/handlers/${handler}.ts by generate-node.mjs: edit that file,`
    + " not this one.\n" + tidy(stripped(join(shared, "handlers", `${handler}.ts`))));
}
