// What every JS story needs: the real server binary on a free port with its own SQLite file,
// a fake OpenAI-compatible upstream the test scripts, HS256 tokens, and a stock
// socket.io-client with bounded waits.
import { spawn } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";

const aqui = path.dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.TUTOR_BIN ?? path.resolve(aqui, "../../target/debug/tutor");
export const PRAZO = 10_000;

/** The three ways a browser reaches the server. */
export const TRANSPORTES = {
  polling: { transports: ["polling"] },
  websocket: { transports: ["websocket"] },
  upgrade: {},
};

export const PADRAO = ["Uma fração ", "representa ", "partes de ", "um todo."];

const b64 = (s) => Buffer.from(s).toString("base64url");

/** An HS256 JWT, or a broken one when the test asks. */
export function token(segredo, claims, { alg = "HS256" } = {}) {
  const h = b64(JSON.stringify({ alg, typ: "JWT" }));
  const c = b64(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims }));
  if (alg === "none") return `${h}.${c}.`;
  const sig = createHmac(alg === "HS512" ? "sha512" : "sha256", segredo).update(`${h}.${c}`).digest("base64url");
  return `${h}.${c}.${sig}`;
}

function sse(res, partes, atraso, { fim = true } = {}) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const chunk = (delta, finish = null) =>
    `data: ${JSON.stringify({
      id: "chatcmpl-js", object: "chat.completion.chunk", created: 1, model: "m",
      choices: [{ index: 0, delta, finish_reason: finish }],
    })}\n\n`;
  res.write(chunk({ role: "assistant", content: "" }));
  let i = 0;
  const passo = () => {
    if (res.destroyed) return;
    if (i < partes.length) {
      res.write(chunk({ content: partes[i++] }));
      setTimeout(passo, atraso);
    } else if (fim) {
      res.write(chunk({}, "stop"));
      res.end("data: [DONE]\n\n");
    } else {
      res.destroy();
    }
  };
  setTimeout(passo, atraso);
}

/** The fake model. `roteiro(r)` queues what the next request gets. */
export async function fakeUpstream() {
  const fila = [];
  const pedidos = [];
  const server = http.createServer((req, res) => {
    let corpo = "";
    req.on("data", (d) => (corpo += d));
    req.on("end", () => {
      pedidos.push(JSON.parse(corpo));
      const r = fila.shift() ?? { partes: PADRAO, atraso: 5 };
      if (r.status) {
        res.writeHead(r.status, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "falha simulada", type: "server_error", code: null } }));
      } else {
        sse(res, r.partes, r.atraso ?? 5, { fim: !r.cortar });
      }
    });
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    url: `http://127.0.0.1:${server.address().port}/v1`,
    pedidos,
    roteiro: (r) => fila.push(r),
    close: () => new Promise((ok) => { server.closeAllConnections(); server.close(ok); }),
  };
}

/** Starts the server binary; resolves once it logs `listening on http://ADDR`. `dir` and
 * `segredo` let a test start it again on the same database. */
export async function startServer(upstream, env = {}, { dir: dado, segredo: dadoSegredo } = {}) {
  const dir = dado ?? mkdtempSync(path.join(tmpdir(), "tutor-js-"));
  const segredo = dadoSegredo ?? `segredo-${randomUUID()}`;
  const ambiente = {
    PATH: process.env.PATH,
    TUTOR_ADDR: "127.0.0.1:0",
    DATABASE_URL: `sqlite://${dir}/tutor.db?mode=rwc`,
    TUTOR_JWT_SECRET: segredo,
    OPENAI_BASE_URL: upstream.url,
    OPENAI_API_KEY: "chave-de-teste",
    TUTOR_MODEL: "modelo-teste",
    TUTOR_MENSAGENS_POR_MINUTO: "0",
    TUTOR_EVENTOS_POR_MINUTO: "0",
    TUTOR_HANDSHAKES_POR_SEGUNDO: "0",
    TUTOR_UPSTREAM_ESPERA_MAX_MS: "50",
    RUST_LOG: "info",
    ...env,
  };
  // An empty value unsets a variable (e.g. TUTOR_JWT_SECRET: "" for demo mode).
  for (const [k, v] of Object.entries(ambiente)) if (v === undefined || v === "") delete ambiente[k];
  const filho = spawn(BIN, [], { env: ambiente, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const url = await new Promise((ok, falha) => {
    const t = setTimeout(() => falha(new Error(`no 'listening on' line:\n${log}`)), PRAZO);
    const ler = (d) => {
      log += d;
      const m = log.match(/listening on (http:\/\/[0-9.:]+)/);
      if (m) { clearTimeout(t); ok(m[1]); }
    };
    filho.stdout.on("data", ler);
    filho.stderr.on("data", ler);
    filho.on("exit", (c) => falha(new Error(`server exited with ${c}:\n${log}`)));
  });
  return {
    url,
    dir,
    segredo,
    token: (sub, extra = {}) => token(segredo, { sub, ...extra }),
    /** SIGTERM and wait; `manter` keeps the database for a restart. */
    async stop({ manter = false } = {}) {
      if (filho.exitCode !== null) return;
      const saiu = new Promise((ok) => filho.on("exit", ok));
      filho.kill("SIGTERM");
      await saiu;
      if (!dado && !manter) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A connected socket that records every event; rejects with the connect_error. */
export function connect(url, tok, opcoes = {}) {
  const s = io(url, { auth: tok === undefined ? undefined : { token: tok }, reconnection: false, forceNew: true, ...opcoes });
  s.recebidos = [];
  s.onAny((ev, dados) => s.recebidos.push([ev, dados]));
  return new Promise((ok, falha) => {
    const t = setTimeout(() => falha(new Error("connect timed out")), PRAZO);
    s.on("connect", () => { clearTimeout(t); ok(s); });
    s.on("connect_error", (e) => { clearTimeout(t); s.close(); falha(e); });
  });
}

/** Emits with an ack; resolves to the ack. */
export function ack(s, evento, ...args) {
  return s.timeout(PRAZO).emitWithAck(evento, ...args);
}

/** Waits for an event (already received or to come) whose payload satisfies `f`. */
export function waitFor(s, evento, f = () => true) {
  const ja = s.recebidos.find(([e, d]) => e === evento && f(d));
  if (ja) return Promise.resolve(ja[1]);
  return new Promise((ok, falha) => {
    const t = setTimeout(() => falha(new Error(`no ${evento}; got ${s.recebidos.map((r) => r[0])}`)), PRAZO);
    const h = (e, d) => {
      if (e === evento && f(d)) { clearTimeout(t); s.offAny(h); ok(d); }
    };
    s.onAny(h);
  });
}

/** Waits for the end of the answer in conversation `conversa`: [event, payload]. */
export async function fimDaResposta(s, conversa) {
  const fim = (e, d) => (e === "mensagem_respondida" || e === "erro_resposta") && d.conversa_id === conversa;
  const ja = s.recebidos.find(([e, d]) => fim(e, d));
  if (ja) return ja;
  return new Promise((ok, falha) => {
    const t = setTimeout(() => falha(new Error(`answer did not end; got ${s.recebidos.map((r) => r[0])}`)), PRAZO);
    const h = (e, d) => { if (fim(e, d)) { clearTimeout(t); s.offAny(h); ok([e, d]); } };
    s.onAny(h);
  });
}

/** The deltas of answer `id`, checked gapless, joined in `indice` order. */
export function textoTransmitido(s, id) {
  const partes = s.recebidos
    .filter(([e, d]) => e === "resposta_parcial" && d.mensagem_id === id)
    .map(([, d]) => d)
    .sort((a, b) => a.indice - b.indice);
  partes.forEach((p, i) => { if (p.indice !== i) throw new Error(`indice gap at ${i}: ${p.indice}`); });
  return partes.map((p) => p.delta).join("");
}
