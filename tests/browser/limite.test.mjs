// A student who spent the day's budget of the tutor (TUTOR_TOKENS_POR_DIA): the next send is
// refused, the app says so and when it renews, Enviar stays off until then, and the text stays
// in the box to send later.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { fakeUpstream, startServer } from "./harness.mjs";
import { PRAZO, abrir, abrirNavegador, contexto, enviar, foto, mensagens, perguntar, terminou } from "./pagina.mjs";

let browser, upstream, server;

before(async () => {
  browser = await abrirNavegador();
  upstream = await fakeUpstream();
  server = await startServer(upstream, { env: { TUTOR_TOKENS_POR_DIA: "1" } });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await upstream?.close();
});

test("over the daily budget a send is refused: a notice says when it renews, Enviar stays off until then, the text stays in the box, nothing is sent", async () => {
  const ctx = await contexto(browser, server.token("nina"));
  const p = await abrir(ctx, server.url);
  // One answer spends more than the budget of one token.
  await perguntar(p, "Primeira pergunta do dia");

  const texto = "Mais uma pergunta, por favor";
  await enviar(p, texto);
  const aviso = p.locator("[data-testid=aviso][data-limite=tokens_por_dia]");
  await aviso.waitFor({ timeout: PRAZO });
  assert.match(await aviso.textContent(), /limite diário/i, "the server's sentence");
  assert.match(
    await p.getByTestId("aviso-renovacao").textContent(),
    /(hoje|amanhã) às \d{2}:\d{2}/,
    "when it renews, from tentar_em_ms",
  );
  assert.equal(await p.getByTestId("entrada-mensagem").inputValue(), texto, "the text stays in the box");
  assert.equal(await mensagens(p).count(), 2, "not shown as sent");
  assert.equal(upstream.pedidos.length, 1, "nothing reached the model");
  await foto(p, "09-limite-diario");

  // Until it renews, Enviar is off: neither the button nor Enter sends anything.
  assert.equal(await p.getByTestId("enviar").isDisabled(), true, "Enviar is off while the budget is spent");
  await p.getByTestId("entrada-mensagem").press("Enter");
  await p.waitForTimeout(300);
  assert.equal(await p.getByTestId("entrada-mensagem").inputValue(), texto, "Enter sent nothing");
  assert.equal(await mensagens(p).count(), 2);
  assert.equal(upstream.pedidos.length, 1);

  // A new page knows nothing of the refusal: its send is refused again by the server, the
  // text stays, and nothing was stored either time.
  await p.reload();
  await terminou(p);
  assert.equal(await mensagens(p).count(), 2);
  await enviar(p, texto);
  await aviso.waitFor({ timeout: PRAZO });
  assert.equal(await p.getByTestId("entrada-mensagem").inputValue(), texto);
  assert.equal(await p.getByTestId("enviar").isDisabled(), true);
  assert.equal(upstream.pedidos.length, 1);
  await p.reload();
  await terminou(p);
  assert.equal(await mensagens(p).count(), 2);
  await ctx.close();
});
