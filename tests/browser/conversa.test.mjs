// One student's conversations in the React app, in real Chromium, against the real server:
// two tabs watching one answer stream, a reload mid-answer, stop, new conversations, a
// failed answer.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { fakeUpstream, startServer } from "./harness.mjs";
import {
  PRAZO, abrir, perguntar, abrirNavegador, contexto, doTutor, enviar, foto, hashDe, mensagens, terminou,
  textoDe, ultimaDoTutor, vendoStream,
} from "./pagina.mjs";

/** An answer slow enough to watch: `n` pieces, `atraso` ms apart. */
const lento = (n, atraso = 150) => {
  // Spaced between pieces, not after the last: a Markdown answer shows no trailing space.
  const partes = Array.from({ length: n }, (_, i) => `${i ? " " : ""}pedaço${i}`);
  return { partes, atraso, texto: partes.join("") };
};

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

test("two tabs of one student: both render the answer as it streams, end with the same text, and a reload mid-answer catches up", async () => {
  const ctx = await contexto(browser, server.token("ana"));
  const a = await abrir(ctx, server.url);
  const b = await abrir(ctx, server.url);
  await foto(a, "01-vazio");

  // Tab A starts a conversation; tab B's list gets it (conversa_criada) and B opens it
  // while the answer streams: B shows the text so far, then the rest.
  const r1 = lento(25);
  upstream.roteiro(r1);
  await enviar(a, "O que é fotossíntese?");
  await b.getByTestId("conversa-item").filter({ hasText: "fotossíntese" }).click({ timeout: PRAZO });
  const vistoB = await vendoStream(b);
  assert.ok(r1.texto.startsWith(vistoB), `B joined mid-answer with a prefix: ${vistoB}`);
  const maisB = await vendoStream(b, vistoB.length + 1);
  assert.ok(r1.texto.startsWith(maisB), "and it grows piece by piece");
  for (const p of [a, b]) await terminou(p);
  assert.equal(await textoDe(ultimaDoTutor(a)), r1.texto);
  assert.equal(await textoDe(ultimaDoTutor(b)), r1.texto);

  // Tab B asks next: tab A shows B's question (mensagem_recebida) and both stream.
  const r2 = lento(25);
  upstream.roteiro(r2);
  await enviar(b, "Explique com mais detalhes");
  await a.locator("[data-testid=mensagem][data-papel=aluno]").filter({ hasText: "Explique com mais detalhes" }).waitFor({ timeout: PRAZO });
  const vistoA = await vendoStream(a, 30);
  assert.ok(r2.texto.startsWith(vistoA), vistoA);
  await vendoStream(b, 30);
  await foto(a, "02-transmitindo");

  // Tab B reloads mid-answer: it shows the text so far, then finishes; nothing twice.
  await b.reload();
  const depois = await vendoStream(b);
  assert.ok(r2.texto.startsWith(depois), depois);
  for (const p of [a, b]) await terminou(p);
  for (const p of [a, b]) {
    assert.equal(await textoDe(ultimaDoTutor(p)), r2.texto, "same final text in both tabs");
    assert.deepEqual(
      await p.locator("[data-testid=mensagem] .texto").allTextContents(),
      ["O que é fotossíntese?", r1.texto, "Explique com mais detalhes", r2.texto],
      "every message once, in conversation order",
    );
    assert.equal(await p.getByTestId("conversa-item").count(), 1);
  }
  await foto(b, "03-respondida");
  await ctx.close();
});

test("stop in one tab stops the answer in both, and it stays stopped after a reload", async () => {
  const ctx = await contexto(browser, server.token("bia"));
  const a = await abrir(ctx, server.url);
  const longo = lento(60, 100);
  upstream.roteiro(longo);
  await enviar(a, "Conte até sessenta devagar");
  await vendoStream(a);
  const b = await abrir(ctx, server.url, hashDe(a));
  await vendoStream(b, 20);
  await b.getByTestId("parar").click({ timeout: PRAZO });
  for (const p of [a, b]) {
    await terminou(p, "cancelada");
    await p.getByText("Resposta interrompida.").waitFor({ timeout: PRAZO });
    await p.getByTestId("parar").waitFor({ state: "detached", timeout: PRAZO });
  }
  await foto(a, "04-interrompida");
  const parado = await textoDe(ultimaDoTutor(a));
  assert.ok(parado.length > 0 && longo.texto.startsWith(parado) && parado !== longo.texto, parado);
  assert.equal(await textoDe(ultimaDoTutor(b)), parado, "both tabs show the stored text");

  await a.reload();
  await terminou(a, "cancelada");
  assert.equal(await textoDe(ultimaDoTutor(a)), parado);
  assert.equal(await mensagens(a).count(), 2);

  // The conversation goes on: the next question gets a whole answer.
  await enviar(a, "Agora responda inteiro");
  await a.locator("[data-testid=mensagem][data-papel=tutor][data-status=completa]").waitFor({ timeout: PRAZO });
  await terminou(a);
  assert.equal(await textoDe(ultimaDoTutor(a)), "Uma fração representa partes de um todo.");
  await ctx.close();
});

test("a new conversation comes first in the list, and an older one opens with its messages", async () => {
  const ctx = await contexto(browser, server.token("gil"));
  const p = await abrir(ctx, server.url);
  await perguntar(p, "Primeira conversa sobre frações");
  const primeira = hashDe(p);

  await p.getByTestId("nova-conversa").click();
  await p.getByText("Pergunte o que quiser ao tutor.").waitFor({ timeout: PRAZO });
  assert.equal(await mensagens(p).count(), 0);
  await perguntar(p, "Segunda conversa sobre verbos");
  assert.notEqual(hashDe(p), primeira);
  await p.getByTestId("conversa-item").nth(1).waitFor({ timeout: PRAZO });
  const lista = await p.getByTestId("conversa-item").allTextContents();
  assert.equal(lista.length, 2);
  assert.match(lista[0], /Segunda/, "most recently active first");

  await p.getByTestId("conversa-item").filter({ hasText: "Primeira" }).click();
  await p.locator("[data-testid=mensagem]").filter({ hasText: "Primeira conversa sobre frações" }).waitFor({ timeout: PRAZO });
  assert.equal(hashDe(p), primeira);
  assert.equal(await mensagens(p).count(), 2);
  assert.equal(await p.getByTestId("mensagens").getByText("Segunda conversa sobre verbos").count(), 0);

  // Talking in the older one brings it to the top.
  await perguntar(p, "De volta às frações");
  assert.equal(await doTutor(p).count(), 2);
  await p.waitForFunction(
    () => document.querySelector("[data-testid=conversa-item]")?.textContent?.includes("Primeira"),
    null,
    { timeout: PRAZO },
  );
  await ctx.close();
});

test("a failed answer shows a readable error next to its partial text", async () => {
  const ctx = await contexto(browser, server.token("davi"));
  const p = await abrir(ctx, server.url);
  upstream.roteiro({ partes: ["Começo da ", "resposta"], atraso: 50, cortar: true });
  await enviar(p, "Pergunta que vai falhar");
  await p.getByTestId("erro-resposta").waitFor({ timeout: PRAZO });
  assert.equal(await textoDe(ultimaDoTutor(p)), "Começo da resposta");
  const erro = await p.getByTestId("erro-resposta").textContent();
  assert.match(erro, /\s/, `a sentence, not a code: ${erro}`);
  assert.doesNotMatch(erro, /modelo_indisponivel|interno/);
  await foto(p, "05-erro");

  // After a reload the answer is still an error with its text (from the database).
  await p.reload();
  await terminou(p, "erro");
  assert.equal(await textoDe(ultimaDoTutor(p)), "Começo da resposta");
  await p.getByTestId("erro-resposta").waitFor({ timeout: PRAZO });
  await ctx.close();
});
