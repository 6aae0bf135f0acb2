// The app loses its connection and comes back: the network drops mid-answer, the server
// restarts (same database, same port), the token expires. What was missed is caught up with
// `entrar_conversa` + `apos`, and nothing shows twice.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { fakeUpstream, portaLivre, rele, startServer } from "./harness.mjs";
import {
  PRAZO, abrir, perguntar, abrirNavegador, conectado, contexto, doTutor, enviar, foto, mensagens, terminou, textoDe,
  ultimaDoTutor, vendoStream,
} from "./pagina.mjs";

const lento = (n, atraso = 150) => {
  // Spaced between pieces, not after the last: a Markdown answer shows no trailing space.
  const partes = Array.from({ length: n }, (_, i) => `${i ? " " : ""}parte${i}`);
  return { partes, atraso, texto: partes.join("") };
};
const reconectando = (p) =>
  p.getByTestId("estado-conexao").filter({ hasText: "Reconectando" }).waitFor({ timeout: PRAZO });
const textos = (p) => p.locator("[data-testid=mensagem] .texto").allTextContents();

let browser, upstream, server, cabo;
// On SIGTERM the server ends answers in flight at once (as `interrompida`) instead of
// letting them finish: the restart story wants one cut in the middle.
const SEM_CARENCIA = { TUTOR_SHUTDOWN_GRACE_MS: "0" };

before(async () => {
  browser = await abrirNavegador();
  upstream = await fakeUpstream();
  // The pages reach the server through a relay whose cable the tests pull.
  const porta = await portaLivre();
  cabo = await rele(porta);
  server = await startServer(upstream, { porta, origens: [cabo.url], env: SEM_CARENCIA });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await cabo?.close();
  await upstream?.close();
});

test("the network drops mid-answer: the tab reconnects, catches up and ends with the whole answer once", async () => {
  const ctx = await contexto(browser, server.token("hugo"));
  const p = await abrir(ctx, cabo.url);
  await perguntar(p, "Primeira pergunta");

  // A short drop while an answer streams, with a question asked meanwhile waiting in line
  // behind it (stored after the answer began): the tab catches up on both.
  const r1 = lento(25);
  const rFila = lento(5, 100);
  upstream.roteiro(r1);
  upstream.roteiro(rFila);
  await enviar(p, "Uma resposta longa, por favor");
  const antes = await vendoStream(p, 20);
  await enviar(p, "E uma pergunta na fila");
  await p.locator("[data-testid=mensagem][data-papel=aluno]").filter({ hasText: "na fila" }).waitFor({ timeout: PRAZO });
  cabo.cortar(1_500);
  await reconectando(p);
  await foto(p, "06-reconectando");
  await conectado(p, 30_000);
  await doTutor(p).nth(2).waitFor({ timeout: PRAZO });
  await terminou(p);
  assert.deepEqual((await textos(p)).slice(2), [
    "Uma resposta longa, por favor", r1.texto, "E uma pergunta na fila", rFila.texto,
  ], `nothing lost or doubled (had ${antes.length} chars before the drop)`);

  // A longer drop: the answer ends while the tab is away; it finds it complete.
  const r2 = lento(10, 100);
  upstream.roteiro(r2);
  await enviar(p, "Outra resposta");
  await vendoStream(p);
  cabo.cortar(3_000);
  await reconectando(p);
  await conectado(p, 30_000);
  await terminou(p);
  assert.deepEqual(await textos(p), [
    "Primeira pergunta", "Uma fração representa partes de um todo.",
    "Uma resposta longa, por favor", r1.texto,
    "E uma pergunta na fila", rFila.texto,
    "Outra resposta", r2.texto,
  ]);
  await ctx.close();
});

test("the server restarts mid-answer (same database, same port): the app shows the answer interrupted with its text, reconnects and carries on", async () => {
  const ctx = await contexto(browser, server.token("eva"));
  const p = await abrir(ctx, server.url);
  await perguntar(p, "Antes do reinício");

  const longo = lento(40, 150);
  upstream.roteiro(longo);
  await enviar(p, "Uma resposta que o reinício pega no meio");
  await vendoStream(p, 30);
  const parar = server.stop({ manter: true });
  await reconectando(p);
  await parar;
  server = await startServer(upstream, {
    porta: server.porta, dir: server.dir, segredo: server.segredo, origens: [cabo.url], env: SEM_CARENCIA,
  });
  await conectado(p, 30_000);
  // Told live (erro_resposta) or on catching up: the answer ended as an error, keeping the
  // text it had, with a sentence saying so.
  await terminou(p, "erro");
  await p.getByTestId("erro-resposta").waitFor({ timeout: PRAZO });
  const cortado = await textoDe(ultimaDoTutor(p));
  assert.ok(cortado.length >= 30 && longo.texto.startsWith(cortado) && cortado !== longo.texto, cortado);
  await foto(p, "06-reiniciado");

  await perguntar(p, "Depois do reinício");
  const t = await textos(p);
  assert.deepEqual(t, [
    "Antes do reinício", "Uma fração representa partes de um todo.",
    "Uma resposta que o reinício pega no meio", cortado,
    "Depois do reinício", "Uma fração representa partes de um todo.",
  ], "nothing duplicated");
  // A reload shows the same: the screen matched the database.
  await p.reload();
  await terminou(p);
  assert.deepEqual(await textos(p), t);
  await ctx.close();
});

test("a token that expires while the tab is open: the app says access was refused", async () => {
  const exp = Math.floor(Date.now() / 1000) + 3;
  const ctx = await contexto(browser, server.token("iris", { exp }));
  const p = await abrir(ctx, server.url);
  // The server disconnects the socket at `exp` (socket.io-client does not reconnect by
  // itself after a server-side disconnect: the app must); the app reconnects with the same
  // token and is refused, once the server's clock-skew tolerance has passed too.
  await p.getByTestId("estado-conexao").filter({ hasText: "Acesso recusado" }).waitFor({ timeout: 30_000 });
  await p.getByText("O servidor recusou este token").waitFor({ timeout: PRAZO });
  assert.equal(await mensagens(p).count(), 0);
  await ctx.close();
});
