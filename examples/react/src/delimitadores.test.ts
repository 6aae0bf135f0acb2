import { describe, expect, test } from "vitest";

import { normalizarDelimitadores as n } from "./delimitadores";

describe("normalizarDelimitadores", () => {
  test("\\(…\\) becomes inline $…$", () => {
    expect(n("A área é \\( \\pi r^2 \\).")).toBe("A área é $\\pi r^2$.");
  });

  test("\\[…\\] on lines of its own becomes a display block", () => {
    expect(n("Temos:\n\\[\nx = \\frac{-b}{2a}\n\\]\nLogo…")).toBe("Temos:\n$$\nx = \\frac{-b}{2a}\n$$\nLogo…");
    expect(n("\\[ a^2 + b^2 = c^2 \\]  ")).toBe("$$\na^2 + b^2 = c^2\n$$");
  });

  test("a display block in a list item keeps the item's indentation", () => {
    expect(n("1. Passo:\n   \\[\n   y = 2x\n   \\]")).toBe("1. Passo:\n   $$\n   y = 2x\n   $$");
  });

  test("\\[…\\] inside a sentence becomes $$…$$ in place", () => {
    expect(n("veja \\[x\\] aqui")).toBe("veja $$x$$ aqui");
  });

  test("code spans and fenced blocks are left as written", () => {
    expect(n("use `\\(x\\)` no LaTeX")).toBe("use `\\(x\\)` no LaTeX");
    expect(n("``a ` \\(b\\)`` e \\(c\\)")).toBe("``a ` \\(b\\)`` e $c$");
    const cerca = "```latex\n\\(x\\) e \\[y\\]\n```\ndepois \\(z\\)";
    expect(n(cerca)).toBe("```latex\n\\(x\\) e \\[y\\]\n```\ndepois $z$");
    expect(n("~~~~\n\\(x\\)\n~~~\nainda código\n~~~~\n\\(w\\)")).toBe("~~~~\n\\(x\\)\n~~~\nainda código\n~~~~\n$w$");
  });

  test("an unclosed fence keeps the rest as code, as Markdown does", () => {
    expect(n("```\n\\(x\\)")).toBe("```\n\\(x\\)");
  });

  test("an opener not closed yet, as mid-stream, is left alone", () => {
    expect(n("Seja \\( \\frac{1}{")).toBe("Seja \\( \\frac{1}{");
    expect(n("\\[\nx = \\frac{1}{")).toBe("\\[\nx = \\frac{1}{");
  });

  test("a formula does not run across a blank line", () => {
    expect(n("\\(a\n\nb\\)")).toBe("\\(a\n\nb\\)");
  });

  test("escaped backslashes and dollars stay escaped", () => {
    expect(n("\\\\(não é fórmula\\\\)")).toBe("\\\\(não é fórmula\\\\)");
    expect(n("custa \\$5")).toBe("custa \\$5");
  });

  test("a price in reais is not read as a formula, a variable R still is", () => {
    expect(n("De R$ 5,00 para R$10,00")).toBe("De R\\$ 5,00 para R\\$10,00");
    expect(n("o raio $R$ e a área $A$")).toBe("o raio $R$ e a área $A$");
  });

  test("text with no math is unchanged", () => {
    const t = "# Título\n\n- um\n- dois\n\n`código` e **negrito**";
    expect(n(t)).toBe(t);
  });
});
