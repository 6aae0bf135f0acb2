// The React example in real Chromium against the real server binary, which serves the
// built app (TUTOR_STATIC_DIR) and talks to a slow fake model so streaming can be watched.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { fakeUpstream, startServer } from "../js/harness.mjs";

const aqui = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.resolve(aqui, "../../examples/react/dist");
const FOTOS = path.resolve(aqui, "../../target/screenshots");
const PRAZO = 15_000;
const LENTO = { partes: Array.from({ length: 15 }, (_, i) => `pedaço${i} `), atraso: 150 };
const TEXTO_LENTO = LENTO.partes.join("");

mkdirSync(FOTOS, { recursive: true });

/** A free port, so the server can be restarted where the open pages expect it. */
async function portaLivre() {
  const s = net.createServer();
  await new Promise((ok) => s.listen(0, "127.0.0.1", ok));
  const { port } = s.address();
  await new Promise((ok) => s.close(ok));
  return port;
}

let browser, upstream, server, porta;
const ambiente = () => ({
  TUTOR_ADDR: `127.0.0.1:${porta}`,
  TUTOR_STATIC_DIR: DIST,
  TUTOR_CORS_ORIGINS: `http://127.0.0.1:${porta}`,
});

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  upstream = await fakeUpstream();
  porta = await portaLivre();
  server = await startServer(upstream, ambiente());
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await upstream?.close();
});

/** A browser context logged in as `sub` (the token the app keeps in sessionStorage). */
async function contexto(sub, opcoes = {}) {
  const ctx = await browser.newContext(opcoes);
  await ctx.addInitScript((t) => sessionStorage.setItem("tutor.token", t), server.token(sub));
  return ctx;
}

async function abrir(ctx, hash = "") {
  const p = await ctx.newPage();
  await p.goto(`${server.url}/${hash}`);
  await p.getByTestId("estado-conexao").filter({ hasText: "Conectado" }).waitFor({ timeout: PRAZO });
  return p;
}

const ultimaDoTutor = (p) => p.locator('[data-testid=mensagem][data-papel=tutor]').last();

async function enviar(p, texto) {
  await p.getByTestId("entrada-mensagem").fill(texto);
  await p.getByTestId("enviar").click();
}

async function foto(p, nome) {
  await p.screenshot({ path: path.join(FOTOS, `${nome}.png`), fullPage: true });
}

/** Waits until the page shows the latest tutor answer streaming with some text. */
async function vendoStream(p) {
  await p.waitForFunction(
    () => {
      const ms = [...document.querySelectorAll('[data-testid=mensagem][data-papel=tutor]')];
      const m = ms.at(-1);
      return m && m.dataset.status === "gerando" && m.querySelector(".texto").textContent.length > 0;
    },
    null,
    { timeout: PRAZO },
  );
}

test("two tabs: both render the answer as it streams and end with the same text; a reload mid-answer catches up", async () => {
  const ctx = await contexto("ana");
  const a = await abrir(ctx);
  await foto(a, "01-vazio");
  await enviar(a, "O que é fotossíntese?");
  await ultimaDoTutor(a).and(a.locator("[data-status=completa]")).waitFor({ timeout: PRAZO });
  const hash = new URL(a.url()).hash;
  assert.match(hash, /^#\/c\/[0-9a-f-]{36}$/);

  const b = await abrir(ctx, hash);
  await b.locator("[data-testid=mensagem]").nth(1).waitFor({ timeout: PRAZO });
  await b.getByTestId("conversa-item").first().waitFor({ timeout: PRAZO });
  assert.equal(await b.getByTestId("conversa-item").count(), 1);

  upstream.roteiro(LENTO);
  await enviar(a, "Explique com mais detalhes");
  await vendoStream(a);
  await vendoStream(b);
  await foto(b, "02-transmitindo");
  // Tab B reloads while the answer streams: it shows the text so far, then the rest.
  await b.reload();
  await vendoStream(b);
  for (const p of [a, b]) {
    await ultimaDoTutor(p).and(p.locator("[data-status=completa]")).waitFor({ timeout: PRAZO });
  }
  const ta = await ultimaDoTutor(a).locator(".texto").textContent();
  const tb = await ultimaDoTutor(b).locator(".texto").textContent();
  assert.equal(ta, TEXTO_LENTO);
  assert.equal(tb, TEXTO_LENTO, "nothing missing, nothing twice after the reload");
  assert.equal(await b.locator("[data-testid=mensagem]").count(), 4);
  await foto(b, "03-respondida");
  await ctx.close();
});

test("stop in one tab stops the answer in both, and it stays stopped after a reload", async () => {
  const ctx = await contexto("bia");
  const a = await abrir(ctx);
  upstream.roteiro({ partes: Array.from({ length: 60 }, (_, i) => `${i} `), atraso: 100 });
  await enviar(a, "Conte até sessenta devagar");
  await vendoStream(a);
  const hash = new URL(a.url()).hash;
  const b = await abrir(ctx, hash);
  await vendoStream(b);
  await b.getByTestId("parar").click();
  for (const p of [a, b]) {
    await ultimaDoTutor(p).and(p.locator("[data-status=cancelada]")).waitFor({ timeout: PRAZO });
    await p.getByText("Resposta interrompida.").waitFor({ timeout: PRAZO });
  }
  await foto(a, "04-interrompida");
  const textoA = await ultimaDoTutor(a).locator(".texto").textContent();
  assert.ok(textoA.length > 0 && textoA.length < 60 * 3, textoA);
  await a.reload();
  await ultimaDoTutor(a).and(a.locator("[data-status=cancelada]")).waitFor({ timeout: PRAZO });
  assert.equal(await ultimaDoTutor(a).locator(".texto").textContent(), textoA);
  await ctx.close();
});

test("another student in another browser sees none of it", async () => {
  const ana = await contexto("ana-privada");
  const a = await abrir(ana);
  await enviar(a, "Minha dúvida particular");
  await ultimaDoTutor(a).and(a.locator("[data-status=completa]")).waitFor({ timeout: PRAZO });
  const hash = new URL(a.url()).hash;

  // Caio has a conversation of his own, so his list is known to be loaded.
  const caio = await contexto("caio");
  const c = await abrir(caio);
  await enviar(c, "Pergunta do Caio");
  await ultimaDoTutor(c).and(c.locator("[data-status=completa]")).waitFor({ timeout: PRAZO });
  await c.goto(`${server.url}/${hash}`);
  await c.getByTestId("aviso").waitFor({ timeout: PRAZO });
  await c.getByTestId("conversa-item").first().waitFor({ timeout: PRAZO });
  assert.deepEqual(await c.getByTestId("conversa-item").allTextContents(), ["Pergunta do Caio"]);
  assert.equal(await c.locator("[data-testid=mensagem]").count(), 0);
  assert.ok(!(await c.content()).includes("Minha dúvida particular"));
  await ana.close();
  await caio.close();
});

test("a failed answer shows a readable error with its partial text", async () => {
  const ctx = await contexto("davi");
  const p = await abrir(ctx);
  upstream.roteiro({ partes: ["Começo da ", "resposta"], atraso: 50, cortar: true });
  await enviar(p, "Pergunta que vai falhar");
  await p.getByTestId("erro-resposta").waitFor({ timeout: PRAZO });
  assert.equal(await ultimaDoTutor(p).locator(".texto").textContent(), "Começo da resposta");
  assert.match(await p.getByTestId("erro-resposta").textContent(), /modelo/);
  await foto(p, "05-erro");
  await ctx.close();
});

test("the server restarts while the app is open: it reconnects and carries on", async () => {
  const ctx = await contexto("eva");
  const p = await abrir(ctx);
  await enviar(p, "Antes do reinício");
  await ultimaDoTutor(p).and(p.locator("[data-status=completa]")).waitFor({ timeout: PRAZO });

  await server.stop({ manter: true });
  await p.getByTestId("estado-conexao").filter({ hasText: "Reconectando" }).waitFor({ timeout: PRAZO });
  await foto(p, "06-reconectando");
  server = await startServer(upstream, ambiente(), { dir: server.dir, segredo: server.segredo });
  await p.getByTestId("estado-conexao").filter({ hasText: "Conectado" }).waitFor({ timeout: 30_000 });
  await enviar(p, "Depois do reinício");
  await p.locator("[data-testid=mensagem][data-papel=tutor][data-status=completa]").nth(1).waitFor({ timeout: PRAZO });
  assert.equal(await p.locator("[data-testid=mensagem]").count(), 4, "nothing duplicated");
  await ctx.close();
});

test("when the token expires the server closes the socket and the app says so", async () => {
  const ctx = await browser.newContext();
  const exp = Math.floor(Date.now() / 1000) + 2;
  await ctx.addInitScript((t) => sessionStorage.setItem("tutor.token", t), server.token("hana", { exp }));
  const p = await abrir(ctx);
  // Closed at exp + the 5 s leeway; the app reconnects by itself and the handshake refuses.
  await p.getByTestId("estado-conexao").filter({ hasText: "Acesso recusado" }).waitFor({ timeout: 20_000 });
  await p.getByRole("alert").filter({ hasText: "token" }).waitFor({ timeout: PRAZO });
  await ctx.close();
});

test("on a phone-sized screen the conversation fits", async () => {
  const ctx = await contexto("fabi", { viewport: { width: 390, height: 844 }, isMobile: true });
  const p = await abrir(ctx);
  await enviar(p, "Oi do celular");
  await ultimaDoTutor(p).and(p.locator("[data-status=completa]")).waitFor({ timeout: PRAZO });
  const largura = await p.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(largura <= 390, `no horizontal scroll: ${largura}`);
  await foto(p, "07-celular");
  await ctx.close();
});

test("login by pasting a token, and the demo guest button only in demo mode", async () => {
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  await p.goto(`${server.url}/`);
  await p.getByTestId("login-token").waitFor({ timeout: PRAZO });
  assert.equal(await p.getByTestId("login-demo").count(), 0, "no guest login with a configured secret");
  await foto(p, "00-login");
  await p.getByTestId("login-token").fill(server.token("gabi"));
  await p.getByTestId("login-entrar").click();
  await p.getByTestId("estado-conexao").filter({ hasText: "Conectado" }).waitFor({ timeout: PRAZO });
  await ctx.close();

  // Demo mode: no secret configured; the server hands out guest tokens on loopback.
  const portaDemo = await portaLivre();
  const demo = await startServer(upstream, {
    TUTOR_JWT_SECRET: "",
    TUTOR_ADDR: `127.0.0.1:${portaDemo}`,
    TUTOR_STATIC_DIR: DIST,
    TUTOR_CORS_ORIGINS: `http://127.0.0.1:${portaDemo}`,
  });
  try {
    const ctx2 = await browser.newContext();
    const q = await ctx2.newPage();
    await q.goto(`${demo.url}/`);
    await q.getByTestId("login-demo").click({ timeout: PRAZO });
    await q.getByTestId("estado-conexao").filter({ hasText: "Conectado" }).waitFor({ timeout: PRAZO });
    await enviar(q, "Olá como visitante");
    await ultimaDoTutor(q).and(q.locator("[data-status=completa]")).waitFor({ timeout: PRAZO });
    await ctx2.close();
  } finally {
    await demo.stop();
  }
});
