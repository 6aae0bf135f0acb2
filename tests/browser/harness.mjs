// What the browser stories stand on: the real server binary on a port of our choosing (so it
// can be restarted where the open pages expect it), a fake OpenAI-compatible model that
// streams slowly enough to watch, HS256 tokens, and a TCP relay whose cable can be pulled.
import { spawn } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const aqui = path.dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.TUTOR_BIN ?? path.resolve(aqui, "../../target/debug/tutor");
export const DIST = path.resolve(aqui, "../../examples/react/dist");
/** Every server's log, appended when it stops: what to read when a story fails. */
export const LOG = path.resolve(aqui, "../../target/browser-tests-server.log");
const PRAZO_INICIO = 15_000;

/** The answer the fake model gives when a test scripted none. */
export const PADRAO = ["Uma fração ", "representa ", "partes de ", "um todo."];

/** A port nobody listens on now (bound and released), so a restart can reuse it. */
export async function portaLivre() {
  const s = net.createServer();
  await new Promise((ok) => s.listen(0, "127.0.0.1", ok));
  const { port } = s.address();
  await new Promise((ok) => s.close(ok));
  return port;
}

const b64 = (s) => Buffer.from(s).toString("base64url");

/** An HS256 JWT with `sub`, `exp` (an hour unless given), `name` and `papel`. */
export function token(segredo, claims) {
  const h = b64(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const c = b64(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 3600, papel: "aluno", ...claims }));
  const sig = createHmac("sha256", segredo).update(`${h}.${c}`).digest("base64url");
  return `${h}.${c}.${sig}`;
}

/** Streams `partes` as OpenAI's `chat.completion.chunk` events, `atraso` ms apart; `cortar`
 * drops the connection instead of finishing. With `uso` (the request asked for
 * `stream_options.include_usage`) a last chunk reports that many tokens, as OpenAI does. */
function sse(res, partes, atraso, cortar, uso) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const chunk = (delta, finish_reason = null) =>
    `data: ${JSON.stringify({
      id: "chatcmpl-navegador", object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000),
      model: "modelo-teste", choices: [{ index: 0, delta, finish_reason }],
    })}\n\n`;
  res.write(chunk({ role: "assistant", content: "" }));
  let i = 0;
  const passo = () => {
    if (res.destroyed) return;
    if (i < partes.length) {
      res.write(chunk({ content: partes[i++] }));
      setTimeout(passo, atraso);
    } else if (cortar) {
      res.destroy();
    } else {
      res.write(chunk({}, "stop"));
      if (uso !== undefined) res.write(`data: ${JSON.stringify(usage(uso))}\n\n`);
      res.end("data: [DONE]\n\n");
    }
  };
  setTimeout(passo, atraso);
}

/** The usage chunk closing a stream: no choices, `total_tokens` of them. */
const usage = (total) => ({
  id: "chatcmpl-navegador", object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000),
  model: "modelo-teste", choices: [],
  usage: { prompt_tokens: total - 1, completion_tokens: 1, total_tokens: total },
});

/** The fake model: `POST /v1/chat/completions`. `roteiro({ partes, atraso, cortar, status,
 * tokens })` queues what the next request gets (`tokens`: the usage it reports, when asked
 * for; 10 unless given); unscripted requests get PADRAO, fast. */
export async function fakeUpstream() {
  const fila = [];
  const pedidos = [];
  const server = http.createServer((req, res) => {
    let corpo = "";
    req.on("data", (d) => (corpo += d));
    req.on("end", () => {
      if (req.method !== "POST" || !req.url.endsWith("/chat/completions")) {
        res.writeHead(404).end();
        return;
      }
      const pedido = JSON.parse(corpo);
      pedidos.push(pedido);
      const r = fila.shift() ?? { partes: PADRAO, atraso: 5 };
      const uso = pedido.stream_options?.include_usage ? (r.tokens ?? 10) : undefined;
      if (r.status) {
        res.writeHead(r.status, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "falha simulada", type: "server_error", code: null } }));
      } else {
        sse(res, r.partes, r.atraso ?? 5, r.cortar, uso);
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

/**
 * Starts the server binary on `porta` (serving the built app) and resolves once it logs
 * `listening on http://ADDR`. `dir` and `segredo` start it again on the same database with
 * the same secret; `segredo: null` is demo mode. `origens` are the extra origins allowed
 * (the page's own is always).
 */
export async function startServer(upstream, { porta, dir: dado, segredo: dadoSegredo, origens = [], env = {} } = {}) {
  const dir = dado ?? mkdtempSync(path.join(tmpdir(), "tutor-navegador-"));
  const segredo = dadoSegredo === undefined ? `segredo-${randomUUID()}` : dadoSegredo;
  porta ??= await portaLivre();
  const origem = `http://127.0.0.1:${porta}`;
  const ambiente = {
    PATH: process.env.PATH,
    TUTOR_ADDR: `127.0.0.1:${porta}`,
    DATABASE_URL: `sqlite://${dir}/t.db?mode=rwc`,
    TUTOR_JWT_SECRET: segredo ?? undefined,
    OPENAI_BASE_URL: upstream.url,
    OPENAI_API_KEY: "x",
    TUTOR_MODEL: "modelo-teste",
    TUTOR_STATIC_DIR: DIST,
    TUTOR_CORS_ORIGINS: [origem, ...origens].join(","),
    // Stories send and connect faster than a person; the limits have tests of their own.
    TUTOR_MENSAGENS_POR_MINUTO: "0",
    TUTOR_EVENTOS_POR_MINUTO: "0",
    TUTOR_HANDSHAKES_POR_SEGUNDO: "0",
    RUST_LOG: "info",
    ...env,
  };
  for (const [k, v] of Object.entries(ambiente)) if (v === undefined) delete ambiente[k];
  const filho = spawn(BIN, [], { env: ambiente, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  await new Promise((ok, falha) => {
    const t = setTimeout(() => falha(new Error(`no 'listening on' line in ${PRAZO_INICIO} ms:\n${log}`)), PRAZO_INICIO);
    const ler = (d) => {
      log += d;
      if (/listening on http:\/\/[0-9.:]+/.test(log)) { clearTimeout(t); ok(); }
    };
    filho.stdout.on("data", ler);
    filho.stderr.on("data", ler);
    filho.on("error", (e) => { clearTimeout(t); falha(e); });
    filho.on("exit", (c) => { clearTimeout(t); falha(new Error(`server exited with ${c}:\n${log}`)); });
  });
  return {
    url: origem,
    porta,
    dir,
    segredo,
    log: () => log,
    token: (sub, extra = {}) => token(segredo, { sub, name: sub, ...extra }),
    /** SIGTERM and wait (bounded); `manter` keeps the database for a restart. */
    async stop({ manter = false } = {}) {
      if (filho.exitCode === null && filho.signalCode === null) {
        const saiu = new Promise((ok) => filho.once("exit", ok));
        filho.kill("SIGTERM");
        const prazo = setTimeout(() => filho.kill("SIGKILL"), 20_000);
        await saiu;
        clearTimeout(prazo);
      }
      mkdirSync(path.dirname(LOG), { recursive: true });
      appendFileSync(LOG, `\n===== server on ${origem}, ${dir}, exit ${filho.exitCode ?? filho.signalCode}\n${log}`);
      if (!dado && !manter) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP relay in front of `porta`: `cortar(ms)` drops every connection through it and
 * refuses new ones for `ms`, as a network that goes away and comes back. */
export async function rele(porta) {
  const abertas = new Set();
  let fechadoAte = 0;
  const server = net.createServer((cliente) => {
    if (Date.now() < fechadoAte) {
      cliente.destroy();
      return;
    }
    const alvo = net.connect(porta, "127.0.0.1");
    abertas.add(cliente).add(alvo);
    const fim = () => {
      cliente.destroy();
      alvo.destroy();
      abertas.delete(cliente);
      abertas.delete(alvo);
    };
    cliente.on("error", fim).on("close", fim);
    alvo.on("error", fim).on("close", fim);
    cliente.pipe(alvo);
    alvo.pipe(cliente);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const p = server.address().port;
  return {
    porta: p,
    url: `http://127.0.0.1:${p}`,
    cortar(ms) {
      fechadoAte = Date.now() + ms;
      for (const s of abertas) s.destroy();
      abertas.clear();
    },
    close: () => new Promise((ok) => {
      for (const s of abertas) s.destroy();
      server.close(ok);
    }),
  };
}
