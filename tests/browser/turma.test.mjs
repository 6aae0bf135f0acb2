// A teacher's class view, in one browser, while students talk to the tutor in others: the
// list of every student's conversations follows them live, pages with "Carregar mais", comes
// back after a network drop, and opens a conversation read-only, streaming.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { io } from "socket.io-client";

import { fakeUpstream, portaLivre, rele, startServer } from "./harness.mjs";
import {
  PRAZO, abrir, abrirNavegador, conectado, contexto, doTutor, enviar, fotoDocs, perguntar, terminou, textoDe,
  ultimaDoTutor, vendoStream,
} from "./pagina.mjs";

const ORCAMENTO = 100_000;

let browser, upstream, server, cabo;

before(async () => {
  browser = await abrirNavegador();
  upstream = await fakeUpstream();
  // The teacher's page goes through a relay whose cable one story pulls.
  const porta = await portaLivre();
  cabo = await rele(porta);
  server = await startServer(upstream, {
    porta, origens: [cabo.url], env: { TUTOR_TOKENS_POR_DIA: String(ORCAMENTO) },
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await cabo?.close();
  await upstream?.close();
});

const lento = (n, atraso = 150) => {
  const partes = Array.from({ length: n }, (_, i) => `${i ? " " : ""}trecho${i}`);
  return { partes, atraso, texto: partes.join("") };
};

const professor = (s, sub = "prof") => s.token(sub, { name: "Profª Helena", papel: "professor" });
const linhas = (p) => p.getByTestId("turma-linha");
const linhaDe = (p, titulo) => linhas(p).filter({ has: p.getByTestId("turma-titulo").filter({ hasText: titulo }) });
/** The visible cells of the class view, row by row. */
const tabela = (p) =>
  linhas(p).evaluateAll((trs) =>
    trs.map((tr) => {
      const celula = (id) => tr.querySelector(`[data-testid=${id}]`)?.textContent;
      return {
        aluno: celula("turma-aluno"), titulo: celula("turma-titulo"), mensagens: celula("turma-mensagens"),
        tokens: celula("turma-tokens"), respondendo: tr.querySelector("[data-testid=respondendo]") !== null,
      };
    }),
  );
/** Waits until the row titled `titulo` shows `campos` (cells as `tabela` reads them). */
async function linhaMostra(p, titulo, campos) {
  await p.waitForFunction(
    ([t, c]) =>
      [...document.querySelectorAll("[data-testid=turma-linha]")].some((tr) => {
        const celula = (id) => tr.querySelector(`[data-testid=${id}]`)?.textContent;
        if (celula("turma-titulo") !== t) return false;
        return Object.entries(c).every(([k, v]) =>
          k === "respondendo" ? (tr.querySelector("[data-testid=respondendo]") !== null) === v : celula(`turma-${k}`) === v,
        );
      }),
    [titulo, campos],
    { timeout: PRAZO },
  );
}

test("the class view follows a student live: a new conversation on top, answering, the counts, and opened read-only while it streams", async () => {
  // Three students talked already; their answers used 1234, 56 and 310 tokens (the fake
  // model's usage report). Caio's token has no name: his id shows.
  const ana = await contexto(browser, server.token("ana", { name: "Ana Beatriz" }));
  upstream.roteiro({ partes: ["A área é $\\pi r^2$."], tokens: 310 });
  await perguntar(await abrir(ana, server.url), "Como calculo a área de um círculo?");
  const bruna = await contexto(browser, server.token("bruna", { name: "Bruna Lima" }));
  upstream.roteiro({ partes: ["Frações são partes de um todo."], tokens: 1234 });
  await perguntar(await abrir(bruna, server.url), "O que é uma fração?");
  const caio = await contexto(browser, server.token("caio"));
  upstream.roteiro({ partes: ["Fotossíntese é…"], tokens: 56 });
  await perguntar(await abrir(caio, server.url), "Como funciona a fotossíntese?");

  const prof = await contexto(browser, professor(server), { viewport: { width: 1100, height: 400 } });
  const t = await abrir(prof, cabo.url);
  await linhas(t).nth(2).waitFor({ timeout: PRAZO });
  assert.equal(await t.getByTestId("entrada-mensagem").count(), 0, "a teacher has no box to send");
  assert.deepEqual(await tabela(t), [
    { aluno: "caio", titulo: "Como funciona a fotossíntese?", mensagens: "2", tokens: "56 / 100.000", respondendo: false },
    { aluno: "Bruna Lima", titulo: "O que é uma fração?", mensagens: "2", tokens: "1.234 / 100.000", respondendo: false },
    { aluno: "Ana Beatriz", titulo: "Como calculo a área de um círculo?", mensagens: "2", tokens: "310 / 100.000", respondendo: false },
  ]);
  assert.equal(await t.getByTestId("turma-atividade").first().textContent(), "agora");

  // A third student starts a conversation: it comes first in the teacher's list at once,
  // answering.
  const davi = await contexto(browser, server.token("davi", { name: "Davi Souza" }));
  const d = await abrir(davi, server.url);
  const r1 = { ...lento(20), tokens: 700 };
  upstream.roteiro(r1);
  await enviar(d, "Quanto é 3/4 + 1/8?");
  await linhaMostra(t, "Quanto é 3/4 + 1/8?", { aluno: "Davi Souza", respondendo: true });
  assert.equal((await tabela(t))[0].titulo, "Quanto é 3/4 + 1/8?", "the newest activity on top");
  await t.evaluate(() => document.fonts.ready);
  await fotoDocs(t, "turma");

  // When the answer ends the badge goes and the counts come: two messages, its tokens.
  await terminou(d);
  await linhaMostra(t, "Quanto é 3/4 + 1/8?", { respondendo: false, mensagens: "2", tokens: "700 / 100.000" });

  // Bruna asks again: her row moves to the top, answering.
  upstream.roteiro({ ...lento(15), tokens: 10 });
  const b = bruna.pages()[0];
  await enviar(b, "E frações equivalentes?");
  await linhaMostra(t, "O que é uma fração?", { respondendo: true });
  assert.equal((await tabela(t))[0].aluno, "Bruna Lima");
  await terminou(b);
  await linhaMostra(t, "O que é uma fração?", { respondendo: false, mensagens: "4", tokens: "1.244 / 100.000" });

  // Davi asks again; the teacher opens his conversation while it streams: every message, the
  // answer growing, signed with the student's name, and nothing to send or stop.
  const r2 = lento(30);
  upstream.roteiro(r2);
  await enviar(d, "E 2/3 de 9?");
  await linhaMostra(t, "Quanto é 3/4 + 1/8?", { respondendo: true });
  await linhaDe(t, "Quanto é 3/4 + 1/8?").click();
  const visto = await vendoStream(t);
  assert.ok(r2.texto.startsWith(visto), visto);
  await vendoStream(t, visto.length + 1);
  assert.equal(await t.getByTestId("entrada-mensagem").count(), 0);
  assert.equal(await t.getByTestId("parar").count(), 0);
  assert.equal(await t.getByTestId("enviar").count(), 0);
  assert.deepEqual(
    await t.locator("[data-testid=mensagem][data-papel=aluno] .autor").allTextContents(),
    ["Davi Souza", "Davi Souza"],
  );
  await terminou(t);
  assert.equal(await textoDe(ultimaDoTutor(t)), r2.texto);
  assert.equal(await textoDe(doTutor(t).first()), r1.texto);

  // Back to the list, which kept following: four messages now.
  await t.getByTestId("voltar-turma").click();
  await linhaMostra(t, "Quanto é 3/4 + 1/8?", { respondendo: false, mensagens: "4" });
  assert.equal(await linhas(t).count(), 4);
  for (const c of [ana, bruna, caio, davi, prof]) await c.close();
});

test("after a network drop the class view follows the class again", async () => {
  const prof = await contexto(browser, professor(server, "prof-rede"));
  const t = await abrir(prof, cabo.url);
  await linhas(t).first().waitFor({ timeout: PRAZO });
  cabo.cortar(1_500);
  await t.getByTestId("estado-conexao").filter({ hasText: "Reconectando" }).waitFor({ timeout: PRAZO });
  await conectado(t, 30_000);

  // Only a socket that asked to follow again (rooms do not survive a connection) hears of it.
  const eva = await contexto(browser, server.token("eva"));
  upstream.roteiro(lento(15));
  await enviar(await abrir(eva, server.url), "Pergunta depois da queda");
  await linhaMostra(t, "Pergunta depois da queda", { aluno: "eva", respondendo: true });
  await linhaMostra(t, "Pergunta depois da queda", { respondendo: false, mensagens: "2" });
  await eva.close();
  await prof.close();
});

test("the class view pages: 50 conversations, then the rest with \"Carregar mais\"", async () => {
  const outro = await startServer(upstream);
  try {
    // 55 conversations of one student, sent by a plain socket.io client, all answered
    // before the teacher looks (so none moves while the story pages).
    const s = io(outro.url, { auth: { token: outro.token("zeca") }, transports: ["websocket"] });
    let respondidas = 0;
    const todas = new Promise((ok) => s.on("mensagem_respondida", () => ++respondidas === 55 && ok()));
    const esperadas = Array.from({ length: 55 }, (_, i) => `Pergunta ${String(i).padStart(2, "0")}`);
    for (const conteudo of esperadas) {
      const r = await s.timeout(PRAZO).emitWithAck("mensagem_enviada", { conteudo });
      assert.ok(r.ok, JSON.stringify(r));
    }
    await todas;
    s.close();

    const prof = await contexto(browser, professor(outro));
    const t = await abrir(prof, outro.url);
    await linhas(t).nth(49).waitFor({ timeout: PRAZO });
    assert.equal(await linhas(t).count(), 50);
    assert.equal(await t.getByTestId("turma-tokens").first().textContent(), "550", "55 answers of 10 tokens; no budget: no \"/ N\"");
    await t.getByTestId("carregar-mais").click();
    await linhas(t).nth(54).waitFor({ timeout: PRAZO });
    await t.getByTestId("carregar-mais").waitFor({ state: "detached", timeout: PRAZO });
    const titulos = await t.getByTestId("turma-titulo").allTextContents();
    assert.deepEqual([...titulos].sort(), esperadas, "every conversation once");
    await prof.close();
  } finally {
    await outro.stop();
  }
});
