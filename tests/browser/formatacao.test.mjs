// What an answer looks like: the tutor's Markdown and math rendered while it streams and once
// it is final, and no HTML from anyone ever running, the model's or a student's.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { fakeUpstream, startServer } from "./harness.mjs";
import { PRAZO, abrir, abrirNavegador, contexto, enviar, fotoDocs, terminou, ultimaDoTutor } from "./pagina.mjs";

let browser, upstream, server;

before(async () => {
  browser = await abrirNavegador();
  upstream = await fakeUpstream();
  server = await startServer(upstream);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await upstream?.close();
});

/** An answer in the pieces a model would stream it in; one ends in the middle of a
 * formula. */
const RESPOSTA = [
  "## Fórmula de Bhaskara\n\n",
  "Para $ax^2 + bx + c = 0$, com \\(a \\neq 0\\), as raízes são:\n\n",
  "$$\nx = \\frac{-b \\pm \\sqrt{b^2",
  " - 4ac}}{2a}\n$$\n\n",
  "O discriminante, em outra notação:\n\n\\[\n\\Delta = b^2 - 4ac\n\\]\n\n",
  "- **Passo 1:** calcule $\\Delta$;\n",
  "- *Passo 2:* aplique a fórmula.\n\n",
  "```python\ndef delta(a, b, c):\n    return b**2 - 4*a*c  # \\(não é fórmula\\)\n```\n\n",
  "Mais em [Bhaskara na Wikipédia](https://pt.wikipedia.org/wiki/F%C3%B3rmula_de_Bhaskara).",
];

test("a tutor's answer renders Markdown and math as it streams and when final", async () => {
  const ctx = await contexto(browser, server.token("lia"), { viewport: { width: 1000, height: 640 } });
  const p = await abrir(ctx, server.url);
  const falhas = [];
  p.on("pageerror", (e) => falhas.push(e.message));
  // (A missing favicon is not the page failing.)
  p.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && falhas.push(m.text()));

  upstream.roteiro({ partes: RESPOSTA, atraso: 250 });
  await enviar(p, "Como resolvo uma equação do 2º grau?");

  // Mid-formula (`\sqrt{b^2` with `$$` and a brace still open) the answer is on screen:
  // its heading and first formulas rendered, the unfinished one shown as its source.
  const resposta = ultimaDoTutor(p);
  await p.waitForFunction(
    () => {
      const m = [...document.querySelectorAll("[data-testid=mensagem][data-papel=tutor]")].at(-1);
      return m?.dataset.status === "gerando" && m.textContent.includes("sqrt{b^2") && !m.textContent.includes("4ac");
    },
    null,
    { timeout: PRAZO },
  );
  await resposta.locator("h2", { hasText: "Fórmula de Bhaskara" }).waitFor({ timeout: PRAZO });
  assert.equal(await resposta.locator("p", { hasText: "Para" }).locator(".katex").count(), 2);

  await terminou(p);
  const para = resposta.locator("p", { hasText: "Para" });
  assert.equal(await para.locator(".katex").count(), 2, "$…$ and \\(…\\) inline");
  assert.equal(await para.locator("annotation").first().textContent(), "ax^2 + bx + c = 0");
  assert.equal(await para.locator("annotation").nth(1).textContent(), "a \\neq 0");
  // KaTeX's stylesheet matches its markup: an exponent is set smaller than its base.
  const [base, expoente] = await para.locator(".katex").first().evaluate((k) => [
    parseFloat(getComputedStyle(k).fontSize), parseFloat(getComputedStyle(k.querySelector(".msupsub .mord")).fontSize),
  ]);
  assert.ok(expoente < base * 0.8, `exponent ${expoente}px, base ${base}px`);
  const exibidas = resposta.locator(".katex-display");
  assert.equal(await exibidas.count(), 2, "$$…$$ and \\[…\\] as display formulas");
  assert.match(await exibidas.first().locator("annotation").textContent(), /\\frac\{-b \\pm \\sqrt\{b\^2 - 4ac\}\}\{2a\}/);
  assert.match(await exibidas.nth(1).locator("annotation").textContent(), /\\Delta = b\^2 - 4ac/);
  assert.equal(await resposta.locator(".katex-error").count(), 0, "the finished formula has no error");

  assert.equal(await resposta.locator("ul > li").count(), 2);
  assert.equal(await resposta.locator("li strong").textContent(), "Passo 1:");
  assert.equal(await resposta.locator("li em").textContent(), "Passo 2:");
  assert.equal(await resposta.locator("li .katex").count(), 1);
  const codigo = resposta.locator("pre code");
  assert.match(await codigo.textContent(), /def delta\(a, b, c\):\n {4}return b\*\*2 - 4\*a\*c {2}# \\\(não é fórmula\\\)/);
  assert.equal(await resposta.locator("pre .katex").count(), 0, "no math inside code");

  const link = resposta.getByRole("link", { name: "Bhaskara na Wikipédia" });
  assert.equal(await link.getAttribute("href"), "https://pt.wikipedia.org/wiki/F%C3%B3rmula_de_Bhaskara");
  assert.equal(await link.getAttribute("target"), "_blank");
  assert.equal(await link.getAttribute("rel"), "noopener noreferrer");
  await p.evaluate(() => document.fonts.ready);
  await fotoDocs(p, "formula");

  // The same after a reload, from the stored text.
  await p.reload();
  await terminou(p);
  await ultimaDoTutor(p).locator(".katex-display").nth(1).waitFor({ timeout: PRAZO });
  assert.equal(await ultimaDoTutor(p).locator(".katex").count(), 5);
  assert.deepEqual(falhas, [], "no error on the page");
  await ctx.close();
});

test("HTML in a model's answer or in a student's message shows as text and never runs", async () => {
  const ctx = await contexto(browser, server.token("rui"));
  const p = await abrir(ctx, server.url);

  // The student's own text is shown as typed: no Markdown, no math, no HTML.
  const pergunta = '<script>window.__xss = "aluno"</script><img src=x onerror="window.__xss = 1"> **$x$**?';
  const doModelo = [
    "Veja: **isto** é Markdown. ",
    '<script>window.__xss = "resposta"</script>',
    '<img src=x onerror="window.__xss = \'imagem\'">',
    "\n\n<div onclick=\"window.__xss = 'div'\">bloco</div>\n\n[clique](javascript:window.__xss='link')",
  ];
  upstream.roteiro({ partes: doModelo, atraso: 50 });
  await enviar(p, pergunta);
  const doAluno = p.locator("[data-testid=mensagem][data-papel=aluno]");
  await doAluno.waitFor({ timeout: PRAZO });
  assert.equal(await doAluno.locator(".texto").textContent(), pergunta);
  assert.equal(await doAluno.locator(".katex, strong, img, script").count(), 0);

  await terminou(p);
  const resposta = ultimaDoTutor(p);
  await resposta.locator("strong", { hasText: "isto" }).waitFor({ timeout: PRAZO });
  const texto = await resposta.textContent();
  assert.ok(texto.includes('<script>window.__xss = "resposta"</script>'), texto);
  assert.ok(texto.includes('<img src=x onerror="window.__xss = \'imagem\'">'), texto);
  assert.ok(texto.includes("<div onclick="), texto);
  assert.equal(await p.locator("[data-testid=mensagens] :is(script, img, div[onclick])").count(), 0);
  // A `javascript:` link loses its address.
  const link = resposta.getByRole("link", { name: "clique" });
  assert.ok(!(await link.getAttribute("href"))?.includes("javascript:"));
  assert.equal(await p.evaluate(() => window.__xss), undefined, "no script ran");
  await ctx.close();
});
