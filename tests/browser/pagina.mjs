// What a person does and sees in the app, as the stories say it: open it logged in, send,
// watch the last answer, take a picture. Every wait is bounded.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const aqui = path.dirname(fileURLToPath(import.meta.url));
export const FOTOS = path.resolve(aqui, "../../target/screenshots");
export const PRAZO = 15_000;

/** Debian's Chromium, headless, with a fresh profile (playwright makes one per launch). */
export async function abrirNavegador() {
  mkdirSync(FOTOS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

/** A browser context (its own cookies and storage: another browser, for the server) whose
 * tabs start logged in with `token`, as the app keeps it in sessionStorage. */
export async function contexto(browser, token, opcoes = {}) {
  const ctx = await browser.newContext({ locale: "pt-BR", ...opcoes });
  await ctx.addInitScript((t) => {
    if (!sessionStorage.getItem("tutor.token")) sessionStorage.setItem("tutor.token", t);
  }, token);
  return ctx;
}

/** A new tab at `url` (optionally `#/c/ID`), once it shows it is connected. */
export async function abrir(ctx, url, hash = "") {
  const p = await ctx.newPage();
  await p.goto(`${url}/${hash}`, { timeout: PRAZO });
  await conectado(p);
  return p;
}

export const conectado = (p, timeout = PRAZO) =>
  p.getByTestId("estado-conexao").filter({ hasText: "Conectado" }).waitFor({ timeout });

export const mensagens = (p) => p.locator("[data-testid=mensagem]");
export const doTutor = (p) => p.locator("[data-testid=mensagem][data-papel=tutor]");
export const ultimaDoTutor = (p) => doTutor(p).last();
export const textoDe = async (m) => (await m.locator(".texto").textContent()) ?? "";

export async function enviar(p, texto) {
  await p.getByTestId("entrada-mensagem").fill(texto);
  await p.getByTestId("enviar").click({ timeout: PRAZO });
}

/** Sends `texto` and waits for its answer to end with `status`: one tutor message more than
 * before, the last one final. */
export async function perguntar(p, texto, status = "completa") {
  const antes = await doTutor(p).count();
  await enviar(p, texto);
  await doTutor(p).nth(antes).waitFor({ timeout: PRAZO });
  await terminou(p, status);
}

/** Waits until the last tutor message has status `status`. */
export async function terminou(p, status = "completa") {
  await p.locator(`[data-testid=mensagem][data-papel=tutor][data-status=${status}]`).last().waitFor({ timeout: PRAZO });
  await p.waitForFunction(
    (s) => [...document.querySelectorAll("[data-testid=mensagem][data-papel=tutor]")].at(-1)?.dataset.status === s,
    status,
    { timeout: PRAZO },
  );
}

/** Waits until the last tutor answer is streaming and shows at least `minimo` characters;
 * returns its text then. */
export async function vendoStream(p, minimo = 1) {
  const h = await p.waitForFunction(
    (min) => {
      const m = [...document.querySelectorAll("[data-testid=mensagem][data-papel=tutor]")].at(-1);
      const t = m?.querySelector(".texto")?.textContent ?? "";
      return m?.dataset.status === "gerando" && t.length >= min && t;
    },
    minimo,
    { timeout: PRAZO },
  );
  return h.jsonValue();
}

/** The URL of the conversation open in `p` (`#/c/ID`). */
export const hashDe = (p) => new URL(p.url()).hash;

export async function foto(p, nome) {
  await p.screenshot({ path: path.join(FOTOS, `${nome}.png`), fullPage: true });
}

/** The pictures in the READMEs (docs/NAME.png): taken into target/screenshots/ like the
 * others, and into docs/ too when TUTOR_SCREENSHOTS_DOCS=1. */
export async function fotoDocs(p, nome) {
  await foto(p, nome);
  if (process.env.TUTOR_SCREENSHOTS_DOCS === "1") {
    await p.screenshot({ path: path.resolve(aqui, "../../docs", `${nome}.png`) });
  }
}
