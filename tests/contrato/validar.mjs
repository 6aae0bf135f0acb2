// Validates an AsyncAPI document (docs/asyncapi.yaml by default) with the official parser:
// the AsyncAPI 3 schema, every $ref, and the parser's Spectral rules. Any diagnostic of
// severity error fails (exit 1); warnings are printed, so they are seen, but do not fail.
//
//   node validar.mjs [path/to/asyncapi.yaml]
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { Parser, fromFile } from "@asyncapi/parser";

const aqui = path.dirname(fileURLToPath(import.meta.url));
const arquivo = path.resolve(process.argv[2] ?? path.join(aqui, "../../docs/asyncapi.yaml"));

// Spectral's DiagnosticSeverity: 0 error, 1 warning, 2 information, 3 hint.
const GRAVIDADE = ["erro", "aviso", "info", "dica"];

await readFile(arquivo); // a missing file is its own clear error, not a parser diagnostic
const { document, diagnostics } = await fromFile(new Parser(), arquivo).parse();

for (const d of diagnostics) {
  const onde = d.path?.length ? d.path.join(".") : "(documento)";
  const linha = d.range ? `:${d.range.start.line + 1}` : "";
  console.log(`${GRAVIDADE[d.severity] ?? d.severity} ${d.code} ${onde}${linha}: ${d.message}`);
}
const erros = diagnostics.filter((d) => d.severity === 0);
if (!document || erros.length > 0) {
  console.error(`${path.basename(arquivo)}: ${erros.length} erro(s); documento inválido`);
  process.exit(1);
}
const operacoes = document.operations().all().length;
console.log(
  `${path.basename(arquivo)}: AsyncAPI ${document.version()} válido, ${operacoes} operações, ` +
    `${diagnostics.length - erros.length} aviso(s)`,
);
