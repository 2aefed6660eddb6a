// Validates Kubernetes objects against the Kubernetes API's own schemas, offline: each YAML document on standard
// input is checked by the model of its apiVersion and kind in the npm package kubernetes-models (JSON schemas
// generated from the Kubernetes OpenAPI specification: required fields, types, enums, formats). An object of a kind
// the package does not know is an error. Prints one line per valid object; errors go to standard error; exits 1 if
// any object is invalid, 2 on a usage error.
//
//   kubectl kustomize deploy/kubernetes | node deploy/kubernetes/validate.mjs NODE_MODULES
//
// NODE_MODULES is the node_modules folder holding kubernetes-models and yaml (scripts/setup.sh installs them into
// $TESTGRID_CACHE/k8s-validate-VERSION/node_modules).
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
if (!modules || !existsSync(join(modules, "kubernetes-models")) || !existsSync(join(modules, "yaml"))) {
  console.error("usage: node validate.mjs NODE_MODULES (a node_modules folder with kubernetes-models and yaml)");
  process.exit(2);
}
const YAML = createRequire(join(modules, "yaml", "package.json"))("yaml");
const models = join(modules, "kubernetes-models");

const documents = YAML.parseAllDocuments(readFileSync(0, "utf8"));
let invalid = 0;
let valid = 0;
for (const document of documents) {
  if (document.errors.length > 0) {
    for (const error of document.errors) console.error(`YAML: ${error.message}`);
    invalid++;
    continue;
  }
  const object = document.toJS();
  if (object === null || object === undefined) continue;
  const what = `${object.kind ?? "?"}/${object.metadata?.name ?? "?"}`;
  const [group, version] = String(object.apiVersion ?? "").includes("/") ? object.apiVersion.split("/") : ["", object.apiVersion];
  const file = join(models, ...(group ? [group] : []), String(version), `${object.kind}.js`);
  if (!object.apiVersion || !object.kind || !existsSync(file)) {
    console.error(`${what}: no schema for apiVersion ${object.apiVersion} kind ${object.kind}`);
    invalid++;
    continue;
  }
  const Model = (await import(pathToFileURL(file).href))[object.kind];
  try {
    new Model(object).validate();
    console.log(`valid ${object.apiVersion} ${what}`);
    valid++;
  } catch (error) {
    console.error(`${what}: ${error.message}`);
    invalid++;
  }
}
if (valid + invalid === 0) {
  console.error("no objects on standard input");
  process.exit(1);
}
process.exit(invalid > 0 ? 1 : 0);
