// Who gets in and what they see: another student sees nothing of ours; logging in by pasting
// a token; the demo guest; a phone-sized screen.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { fakeUpstream, portaLivre, startServer } from "./harness.mjs";
import {
  PRAZO, abrir, perguntar, abrirNavegador, conectado, contexto, enviar, foto, hashDe, mensagens, terminou,
  vendoStream,
} from "./pagina.mjs";

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

test("another student in another browser sees none of it, not even by its link", async () => {
  const ana = await contexto(browser, server.token("ana-privada"));
  const a = await abrir(ana, server.url);
  await perguntar(a, "Minha dúvida particular");
  const link = hashDe(a);

  // Caio has a conversation of his own, so his list is known to be loaded.
  const caio = await contexto(browser, server.token("caio"));
  const c = await abrir(caio, server.url);
  await perguntar(c, "Pergunta do Caio");
  await c.goto(`${server.url}/${link}`);
  await conectado(c);
  await c.getByTestId("aviso").waitFor({ timeout: PRAZO });
  await c.getByTestId("conversa-item").first().waitFor({ timeout: PRAZO });
  assert.deepEqual(await c.getByTestId("conversa-item").allTextContents(), ["Pergunta do Caio"]);
  assert.equal(await mensagens(c).count(), 0);
  assert.ok(!(await c.content()).includes("Minha dúvida particular"));

  // And Ana's next answer streams into no tab of Caio's.
  await perguntar(a, "Mais uma");
  assert.ok(!(await c.content()).includes("Mais uma"));
  await ana.close();
  await caio.close();
});

test("log in by pasting a token; the demo guest button is hidden when the server has a secret", async () => {
  const ctx = await browser.newContext({ locale: "pt-BR" });
  const p = await ctx.newPage();
  await p.goto(`${server.url}/`);
  await p.getByTestId("login-token").waitFor({ timeout: PRAZO });
  // The guest button appears only once /dev/token answered; give it the time to be wrong.
  await p.waitForLoadState("networkidle", { timeout: PRAZO });
  assert.equal(await p.getByTestId("login-demo").count(), 0, "no guest login with a configured secret");
  await foto(p, "00-login");

  await p.getByTestId("login-token").fill("isto não é um token");
  await p.getByTestId("login-entrar").click();
  await p.getByTestId("estado-conexao").filter({ hasText: "Acesso recusado" }).waitFor({ timeout: PRAZO });
  await p.getByRole("button", { name: "Sair", exact: true }).click();

  await p.getByTestId("login-token").fill(server.token("gabi"));
  await p.getByTestId("login-entrar").click();
  await conectado(p);
  // The token is kept for this tab: a reload stays logged in.
  await p.reload();
  await conectado(p);
  await ctx.close();
});

test("demo mode: the guest button logs in, and the guest is let back in after the server restarts with a new secret", async () => {
  const porta = await portaLivre();
  let demo = await startServer(upstream, { porta, segredo: null });
  try {
    const ctx = await browser.newContext({ locale: "pt-BR" });
    const q = await ctx.newPage();
    await q.goto(`${demo.url}/`);
    await q.getByTestId("login-demo").waitFor({ timeout: PRAZO });
    await foto(q, "00-login-demo");
    await q.getByTestId("login-demo").click();
    await conectado(q);
    await perguntar(q, "Olá como visitante");

    await demo.stop({ manter: true });
    demo = await startServer(upstream, { porta, segredo: null, dir: demo.dir });
    await conectado(q, 30_000);
    await q.getByTestId("conversa-item").filter({ hasText: "Olá como visitante" }).waitFor({ timeout: PRAZO });
    await perguntar(q, "Ainda sou eu");
    assert.equal(await mensagens(q).count(), 4);

    // A teacher guest: the class view, with the student guest's conversation in it.
    const prof = await ctx.newPage();
    await prof.goto(`${demo.url}/`);
    await prof.evaluate(() => sessionStorage.clear());
    await prof.reload();
    await prof.getByTestId("login-demo-professor").click();
    await conectado(prof);
    await prof.getByTestId("turma-titulo").filter({ hasText: "Olá como visitante" }).waitFor({ timeout: PRAZO });
    assert.equal(await prof.getByTestId("entrada-mensagem").count(), 0, "a teacher has no message box");
    await ctx.close();
  } finally {
    await demo.stop();
  }
});

test("on a phone-sized screen the conversation fits, stop button included", async () => {
  const ctx = await contexto(browser, server.token("fabi"), { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const p = await abrir(ctx, server.url);
  await perguntar(p, "Oi do celular");
  upstream.roteiro({ partes: Array.from({ length: 20 }, (_, i) => `trecho ${i} da explicação; `), atraso: 100 });
  await enviar(p, "Explique devagar");
  await vendoStream(p, 60);
  await p.getByTestId("parar").waitFor({ timeout: PRAZO });
  const largura = await p.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(largura <= 390, `no horizontal scroll: ${largura}`);
  const botao = await p.getByTestId("parar").boundingBox();
  assert.ok(botao && botao.x >= 0 && botao.x + botao.width <= 390, JSON.stringify(botao));
  await foto(p, "07-celular");
  await terminou(p);
  await foto(p, "08-celular-respondida");
  await ctx.close();
});
