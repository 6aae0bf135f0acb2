// Math delimiters the Markdown parser does not know, rewritten into the ones it does before
// rendering: `\(…\)` becomes `$…$` and `\[…\]` becomes `$$…$$` (a display block when it
// stands on lines of its own). Code spans and fenced code blocks are left exactly as they
// are, and so is an opener not closed yet (an answer still streaming). A Brazilian price
// (`R$ 5,00`) is escaped so that two of them do not read as one formula.

const CERCA = /^\s*(`{3,}|~{3,})/;

/** The text with `\(…\)` and `\[…\]` as `$…$` and `$$…$$`, outside code. */
export function normalizarDelimitadores(texto: string): string {
  const linhas = texto.split("\n");
  const saida: string[] = [];
  // The lines outside code since the last fence, rewritten together (a formula or a code
  // span may span lines).
  let trecho: string[] = [];
  let cerca: string | null = null;
  for (const linha of linhas) {
    if (cerca === null) {
      const abre = linha.match(CERCA);
      if (abre) {
        if (trecho.length) saida.push(fora(trecho.join("\n")));
        trecho = [];
        cerca = abre[1];
        saida.push(linha);
      } else {
        trecho.push(linha);
      }
    } else {
      saida.push(linha);
      if (fecha(linha, cerca)) cerca = null;
    }
  }
  if (trecho.length) saida.push(fora(trecho.join("\n")));
  return saida.join("\n");
}

/** Whether `linha` closes a block opened by `cerca`: the same character, at least as many,
 * nothing after but spaces. */
function fecha(linha: string, cerca: string): boolean {
  const m = linha.match(/^\s*(`{3,}|~{3,})\s*$/);
  return m !== null && m[1][0] === cerca[0] && m[1].length >= cerca.length;
}

/** Rewrites text that holds no fenced code (it may hold code spans). */
function fora(s: string): string {
  let saida = "";
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === "`") {
      const n = corrida(s, i, "`");
      const fim = fimDoCodigo(s, i + n, n);
      // An unmatched run of backticks is plain text.
      const ate = fim < 0 ? i + n : fim + n;
      saida += s.slice(i, ate);
      i = ate;
    } else if (c === "\\" && (s[i + 1] === "(" || s[i + 1] === "[")) {
      const exibida = s[i + 1] === "[";
      const fim = fechamento(s, i + 2, exibida ? "]" : ")");
      if (fim < 0) {
        // Not closed (yet): left as written.
        saida += s.slice(i, i + 2);
        i += 2;
        continue;
      }
      const formula = s.slice(i + 2, fim);
      const depois = fim + 2;
      if (exibida && sozinhaNaLinha(s, i, depois)) {
        const recuo = s.slice(s.lastIndexOf("\n", i - 1) + 1, i);
        const corpo = formula.split("\n").map((l) => l.trim()).filter((l) => l !== "");
        saida += `$$\n${corpo.map((l) => recuo + l).join("\n")}\n${recuo}$$`;
        // The spaces after the closer go with it.
        const quebra = s.indexOf("\n", depois);
        i = quebra < 0 ? s.length : quebra;
      } else {
        saida += exibida ? `$$${formula.trim()}$$` : `$${formula.trim()}$`;
        i = depois;
      }
    } else if (c === "\\") {
      // An escaped character (`\\`, `\$`, `` \` ``…) stays escaped.
      saida += s.slice(i, i + 2);
      i += 2;
    } else if (c === "$" && ehPreco(s, i)) {
      saida += "\\$";
      i += 1;
    } else {
      saida += c;
      i += 1;
    }
  }
  return saida;
}

/** How many `c` in a row start at `i`. */
function corrida(s: string, i: number, c: string): number {
  let n = 0;
  while (s[i + n] === c) n += 1;
  return n;
}

/** Where the code span opened by `n` backticks ends: the next run of exactly `n`; -1 if
 * none. */
function fimDoCodigo(s: string, de: number, n: number): number {
  let i = de;
  while (i < s.length) {
    if (s[i] === "`") {
      const m = corrida(s, i, "`");
      if (m === n) return i;
      i += m;
    } else {
      i += 1;
    }
  }
  return -1;
}

/** The index of the `\` of the unescaped `\)` or `\]` that closes a formula begun at `de`,
 * within its paragraph (no blank line); -1 if none. */
function fechamento(s: string, de: number, c: string): number {
  let i = de;
  while (i < s.length) {
    if (s[i] === "\\") {
      if (s[i + 1] === c) return i;
      i += 2;
    } else if (s[i] === "\n" && linhaEmBranco(s, i + 1)) {
      return -1;
    } else {
      i += 1;
    }
  }
  return -1;
}

/** Whether the line starting at `i` holds only spaces. */
function linhaEmBranco(s: string, i: number): boolean {
  let j = i;
  while (s[j] === " " || s[j] === "\t") j += 1;
  return s[j] === "\n" || j >= s.length;
}

/** Whether the formula from `inicio` to `fim` has its lines to itself: only spaces before it
 * on its first line and after it on its last. */
function sozinhaNaLinha(s: string, inicio: number, fim: number): boolean {
  const antes = s.slice(s.lastIndexOf("\n", inicio - 1) + 1, inicio);
  const quebra = s.indexOf("\n", fim);
  const depois = s.slice(fim, quebra < 0 ? s.length : quebra);
  return antes.trim() === "" && depois.trim() === "";
}

/** A `$` of Brazilian money: `R$` starting a word, then a number (`R$ 5,00`, `R$5`). */
function ehPreco(s: string, i: number): boolean {
  return s[i - 1] === "R" && /^[\s(["']?$/.test(s[i - 2] ?? "") && /^ ?\d/.test(s.slice(i + 1, i + 3));
}
