// Issue 7, stories 1 and 2, with the stock socket.io-client.
//
// 1. A school behind one address: with the server's DEFAULT limits, 300 students (300 users,
//    every token valid) open the app from 127.0.0.1 at once and every one connects at the first
//    try (no reconnection) and gets its own answer, nothing else's; once per transport. And the
//    abuse side: handshakes whose token fails authentication ARE throttled per address (HTTP 429
//    past the burst), and a valid student connects once the budget refills.
// 4. A professor opens three classes of 40: 120 joins emitted together, all acked.
// 2. A tab that stops reading: one user, two WebSocket tabs in N conversations whose answers are
//    megabytes each; tab B stops reading its TCP socket. Tab A gets every answer whole; tab B,
//    resumed, is disconnected by the server (never a stream with a gap) and catches up with
//    `entrar_conversa` + `apos`; the server's RSS grows far less than what streamed past tab B.
//
// Timings are printed (never asserted). `ESCOLA_ALUNOS`, `ESCOLA_CONVERSAS`, `ESCOLA_RODADAS`, `ESCOLA_PARALELO`,
// `ESCOLA_PECAS` and `ESCOLA_TAMANHO_PECA` override the sizes (for tuning only).
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { describe, test } from "node:test";

import {
  PRAZO, TRANSPORTES, amostrarRss, barreira, comServidor, connect, esperar, fimDaResposta,
  sucesso, textoTransmitido, token, ultimaDoAluno, usuario, waitDisconnect, waitFor,
} from "./harness.mjs";

const log = (...a) => console.log("[escola]", ...a);

/**
 * The server's own defaults for every rate and handshake limit: the harness turns some off for
 * the other stories; an empty string unsets the variable.
 */
const LIMITES_PADRAO = {
  TUTOR_HANDSHAKES_POR_SEGUNDO: "",
  TUTOR_HANDSHAKES_RAJADA: "",
  TUTOR_MENSAGENS_POR_MINUTO: "",
  TUTOR_EVENTOS_POR_MINUTO: "",
  TUTOR_MAX_SOCKETS_POR_USUARIO: "",
};

const ALUNOS = Number(process.env.ESCOLA_ALUNOS ?? 300);
/** Bound on the whole connect phase and on each student's send + answer (not a timing claim). */
const PRAZO_ESCOLA = 30_000;

/** Emits with an ack bounded by `prazo`; resolves to the ack. */
function ackEm(s, evento, dados, prazo) {
  return new Promise((ok, falha) => {
    s.timeout(prazo).emit(evento, dados, (err, r) => {
      if (err) { falha(new Error(`no ack for ${evento} within ${prazo} ms`)); return; }
      s.recebidos.push([`ack:${evento}`, r]);
      ok(r);
    });
  });
}

/** The waits of a whole class, bounded together. */
function comPrazo(p, prazo, oque) {
  let t;
  const limite = new Promise((_, falha) => { t = setTimeout(() => falha(new Error(`${oque}: not done within ${prazo} ms`)), prazo); });
  return Promise.race([p, limite]).finally(() => clearTimeout(t));
}

/** What a connect_error looks like, for the failure message. */
const descrever = (e) => `${e?.message}${e?.description !== undefined ? ` (${typeof e.description === "object" ? e.description?.message ?? "" : e.description})` : ""}`;

// ---------------------------------------------------------------------------------------------
// Story 1: a school behind one address

for (const [nome, transporte] of Object.entries(TRANSPORTES)) {
  describe(`escola: ${ALUNOS} alunos atrás de um endereço, default limits, over ${nome}`, () => {
    const ctx = comServidor(transporte, LIMITES_PADRAO);

    test(`${ALUNOS} students connect at the first try within about a second, each gets its own answer`, async () => {
      ctx.upstream.padrao({ partes: (corpo) => ["Resposta para ", ultimaDoAluno(corpo) ?? "?"], atraso: 5 });
      const subs = Array.from({ length: ALUNOS }, (_, i) => usuario(`aluno${i}`));
      const tokens = subs.map((sub) => ctx.server.token(sub));

      // Connect phase: every student at once, no reconnection (a refused handshake is a failure).
      const t0 = performance.now();
      const tentativas = tokens.map((tok) =>
        connect(ctx.server.url, tok, { ...transporte, reconnection: false }).then((s) => {
          ctx.abertos.push(s);
          return { s, em: performance.now() - t0 };
        }));
      const resultados = await comPrazo(Promise.allSettled(tentativas), PRAZO_ESCOLA, "connect phase");
      const tConexao = performance.now() - t0;
      const ok = resultados.filter((r) => r.status === "fulfilled").map((r) => r.value);
      const recusas = resultados.filter((r) => r.status === "rejected").map((r) => descrever(r.reason));
      const porMotivo = {};
      for (const m of recusas) porMotivo[m] = (porMotivo[m] ?? 0) + 1;
      log(`${nome}: connect phase ${tConexao.toFixed(0)} ms: ${ok.length}/${ALUNOS} connected` +
        (ok.length ? ` (last at ${Math.max(...ok.map((x) => x.em)).toFixed(0)} ms)` : "") +
        (recusas.length ? `; refused: ${JSON.stringify(porMotivo)}` : ""));
      assert.equal(recusas.length, 0, `every student connects at the first try; refused: ${JSON.stringify(porMotivo)}`);

      // Each sends one message and gets its own answer.
      const t1 = performance.now();
      const socks = resultados.map((r) => r.value.s);
      const perguntas = socks.map((_, i) => `pergunta do aluno ${i} (${subs[i]})`);
      const fins = await comPrazo(Promise.all(socks.map(async (s, i) => {
        const r = await ackEm(s, "mensagem_enviada", { conteudo: perguntas[i] }, PRAZO_ESCOLA);
        assert.equal(r?.ok, true, `student ${i}'s send: ${JSON.stringify(r)}`);
        const [ev, fim] = await fimDaResposta(s, r.conversa_id);
        return { r, ev, fim };
      })), PRAZO_ESCOLA, "send + answer phase");
      log(`${nome}: ${ALUNOS} sends acked and answered in ${(performance.now() - t1).toFixed(0)} ms`);

      const conversas = new Set();
      fins.forEach(({ r, ev, fim }, i) => {
        const s = socks[i];
        assert.equal(ev, "mensagem_respondida", `student ${i}: ${JSON.stringify(fim)}`);
        assert.equal(fim.mensagem.status, "completa");
        assert.equal(fim.mensagem.conteudo, `Resposta para ${perguntas[i]}`, `student ${i} gets the answer to their own question`);
        assert.equal(textoTransmitido(s, fim.mensagem.id), fim.mensagem.conteudo, `student ${i}: the deltas are the answer`);
        conversas.add(r.conversa_id);
      });
      assert.equal(conversas.size, ALUNOS, "one conversation per student");

      // Nothing else's: a round trip on every socket, then every event it got is about its own
      // conversation, and its list holds exactly that one conversation.
      const listas = await comPrazo(Promise.all(socks.map((s) => ackEm(s, "listar_conversas", {}, PRAZO_ESCOLA))),
        PRAZO_ESCOLA, "listar_conversas");
      fins.forEach(({ r }, i) => {
        const s = socks[i];
        const alheios = s.recebidos.filter(([e, d]) => !e.startsWith("ack:") && !e.startsWith("#") && d?.conversa_id !== r.conversa_id);
        assert.deepEqual(alheios, [], `student ${i} hears only of their own conversation`);
        assert.ok(!s.recebidos.some(([e]) => e === "#disconnect"), `student ${i} stayed connected`);
        assert.equal(listas[i]?.ok, true, JSON.stringify(listas[i]));
        assert.deepEqual(listas[i].conversas.map((c) => c.id), [r.conversa_id], `student ${i} lists only their own conversation`);
      });
    });
  });
}

describe("escola: handshakes with bad tokens from one address are throttled", () => {
  const POR_SEGUNDO = 1;
  const RAJADA = 5;
  const POLLING = TRANSPORTES.polling;
  const ctx = comServidor(POLLING, {
    ...LIMITES_PADRAO,
    TUTOR_HANDSHAKES_POR_SEGUNDO: String(POR_SEGUNDO),
    TUTOR_HANDSHAKES_RAJADA: String(RAJADA),
  });

  /** Resolves to the connect_error of a handshake that must not connect. */
  const recusado = (tok) => connect(ctx.server.url, tok, { ...POLLING, reconnection: false })
    .then((s) => { s.close(); return null; }, (e) => e);

  test(`past a burst of ${RAJADA}, forged-token handshakes get 429; a valid student connects after Retry-After`, async () => {
    const agora = Math.floor(Date.now() / 1000);
    const falsos = [
      "isto não é um jwt",
      token("um-segredo-que-nao-e-o-do-servidor", { sub: "intruso" }),
      token(ctx.server.secret, { sub: "intruso" }, { alg: "none" }),
      token(ctx.server.secret, { sub: "intruso", exp: agora - 3600 }),
      `${ctx.server.token("intruso").slice(0, -4)}AAAA`,
    ];
    // The burst: each is refused by authentication, not by the limit.
    for (let i = 0; i < RAJADA; i++) {
      const e = await recusado(falsos[i % falsos.length]);
      assert.ok(e, `forged handshake #${i + 1} must not connect`);
      assert.equal(e.message, "nao_autorizado", `forged handshake #${i + 1} (within the burst of ${RAJADA}) is refused by authentication, not the limit: ${descrever(e)}`);
    }
    // Beyond the burst: the address's budget is spent: HTTP 429 on the polling handshake.
    for (let i = 0; i < 3; i++) {
      const e = await recusado(falsos[i % falsos.length]);
      assert.ok(e, "must not connect");
      assert.equal(e.message, "xhr poll error", `forged handshake beyond the burst is refused by the limit: ${descrever(e)}`);
      assert.equal(e.description, 429, `HTTP 429: ${descrever(e)}`);
    }
    // The same seen raw, with its Retry-After. A valid token is refused too while the budget is
    // empty: the Engine.IO handshake comes before the token.
    const r = await fetch(`${ctx.server.url}/socket.io/?EIO=4&transport=polling`, { signal: AbortSignal.timeout(5000) });
    await r.arrayBuffer();
    assert.equal(r.status, 429);
    const retry = Number(r.headers.get("retry-after"));
    assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `a Retry-After in seconds: ${r.headers.get("retry-after")}`);
    log(`forged handshakes: ${RAJADA} refused nao_autorizado, then 429 with Retry-After ${retry} s`);

    // Pacing the refill (not waiting for an event): then a valid student connects at the first
    // try, and, since a handshake that authenticates gives its unit back, so do the next ones,
    // one after another.
    await esperar(retry * 1000 + 100);
    const sub = usuario("aluna");
    const s = await connect(ctx.server.url, ctx.server.token(sub), { ...POLLING, reconnection: false });
    ctx.abertos.push(s);
    assert.ok(s.connected);
    const r1 = await sucesso(s, "mensagem_enviada", { conteudo: "cheguei" });
    assert.equal((await fimDaResposta(s, r1.conversa_id))[0], "mensagem_respondida");
    for (let i = 0; i < 3; i++) {
      const t = await connect(ctx.server.url, ctx.server.token(usuario(`colega${i}`)), { ...POLLING, reconnection: false })
        .catch((e) => assert.fail(`valid student #${i + 2} after the refill: ${descrever(e)}`));
      ctx.abertos.push(t);
      assert.ok(t.connected);
    }
    // And the budget is still spent for bad tokens.
    const e = await recusado(falsos[1]);
    assert.ok(e);
    assert.equal(e.message === "nao_autorizado" || (e.message === "xhr poll error" && e.description === 429), true,
      `a forged token still does not connect: ${descrever(e)}`);
  });
});

// ---------------------------------------------------------------------------------------------
// Story 4: a professor opening three classes at once

describe("escola: a professor opens three classes of 40 at once, default limits", () => {
  const ctx = comServidor(TRANSPORTES.websocket, LIMITES_PADRAO);

  test("120 entrar_conversa emitted together are all acked; a runaway loop is still refused", async () => {
    // 40 students, a conversation in each of three subjects (within the default send burst).
    const conversas = [];
    for (let i = 0; i < 40; i++) {
      const aluno = await ctx.abrir(usuario(`aluno${i}`));
      for (const materia of ["frações", "verbos", "células"]) {
        conversas.push((await sucesso(aluno, "mensagem_enviada", { conteudo: materia })).conversa_id);
      }
    }
    const prof = await ctx.abrir(usuario("prof"), { papel: "professor" });
    const acks = await comPrazo(Promise.all(conversas.map((c) => ackEm(prof, "entrar_conversa", { conversa_id: c }, PRAZO))),
      PRAZO, "the class view's joins");
    acks.forEach((r, i) => assert.equal(r?.ok, true, `join #${i}: ${JSON.stringify(r)}`));
    // A client caught in a loop of joins is bounded all the same.
    let recusa = null;
    for (let i = 0; i < 2000 && !recusa; i++) {
      const r = await ackEm(prof, "entrar_conversa", { conversa_id: conversas[i % conversas.length] }, PRAZO);
      if (!r.ok) recusa = r;
    }
    assert.ok(recusa, "a runaway loop of joins is refused at some point");
    assert.equal(recusa.erro.codigo, "limite_excedido");
    assert.ok(prof.connected, "refused, not disconnected");
  });
});

// ---------------------------------------------------------------------------------------------
// Story 2: a tab that stops reading

const WS = TRANSPORTES.websocket;
/** The per-socket byte bound the server is started with: the default, 4 MiB. A reading tab
 * may lag behind a stream this fast (hundreds of MB/s on loopback) by a few MiB. */
const BUFFER_BYTES = 4 << 20;
/** Conversations both tabs join; RODADAS big answers stream in each while tab B is stuck. */
const CONVERSAS = Number(process.env.ESCOLA_CONVERSAS ?? 40);
const RODADAS = Number(process.env.ESCOLA_RODADAS ?? 2);
/** Answers streaming at the same time (the rest wait their turn). */
const EM_PARALELO = Number(process.env.ESCOLA_PARALELO ?? 3);
/** Each big answer: PECAS pieces of TAMANHO_PECA ASCII bytes (1.5 MiB). */
const PECAS = Number(process.env.ESCOLA_PECAS ?? 12);
const TAMANHO_PECA = Number(process.env.ESCOLA_TAMANHO_PECA ?? 128 * 1024);
/** Big answers streamed with both tabs reading before the baseline is taken. */
const AQUECIMENTO = 4;
const ENCHIMENTO = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(Math.ceil(TAMANHO_PECA / 36) + 1);
/** The model's pieces for a question: each piece tagged with the question, ASCII only. */
const pecasPara = (pergunta, pecas = PECAS) => Array.from({ length: pecas }, (_, j) => {
  const cabeca = `<${pergunta}#${j}>`;
  return cabeca + ENCHIMENTO.slice(0, TAMANHO_PECA - cabeca.length);
});
const mb = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;

/**
 * How long a wait on a big answer may take: they stream 1.5 MiB each, are stored whole, and
 * 240 MiB of them go through one SQLite file in this test, so a slow disk (a CI machine's)
 * may hold a commit for seconds. What the test asserts is what arrives, never how fast.
 */
const PRAZO_GRANDE = 60_000;

/**
 * Runs a test body; when it fails, logs why and the server's last warnings before the
 * failure is reported (a CI excerpt keeps the log lines beside the test's name, and the
 * assertion's message may be cut).
 */
function comDiagnostico(ctx, corpo) {
  return async () => {
    try {
      await corpo();
    } catch (e) {
      const avisos = (ctx.server?.logs ?? "").split("\n").filter((l) => /WARN|ERROR/.test(l)).slice(-15);
      log(`FAILED: ${String(e?.message ?? e).slice(0, 1500)}`);
      for (const l of avisos) log(`  server: ${l.slice(0, 300)}`);
      throw e;
    }
  };
}

/** Reconnects a socket the server closed; resolves once connected again. */
function reconectar(s, prazo = PRAZO) {
  return new Promise((ok, falha) => {
    const t = setTimeout(() => falha(new Error(`no reconnect within ${prazo} ms`)), prazo);
    s.once("connect", () => { clearTimeout(t); ok(); });
    s.once("connect_error", (e) => { clearTimeout(t); falha(e); });
    s.connect();
  });
}

/** Runs `trabalhos` (async functions) `k` at a time. */
async function emPool(trabalhos, k) {
  let proximo = 0;
  await Promise.all(Array.from({ length: k }, async () => {
    while (proximo < trabalhos.length) await trabalhos[proximo++]();
  }));
}

/** Fails with `oque` if the server disconnected `s`. */
function aindaConectada(s, oque) {
  const d = s.recebidos.find(([e]) => e === "#disconnect");
  assert.ok(!d, `${oque} was disconnected ("${d?.[1]}") though it reads everything`);
}

describe("escola: uma aba que para de ler", () => {
  const ctx = comServidor(WS, { TUTOR_SOCKET_BUFFER_BYTES: String(BUFFER_BYTES) });

  test(`an answer bigger than the byte bound (${mb(BUFFER_BYTES)}) still reaches a tab that reads`, comDiagnostico(ctx, async () => {
    const pecas = Math.ceil((1.5 * BUFFER_BYTES) / TAMANHO_PECA);
    ctx.upstream.padrao({ partes: (corpo) => pecasPara(ultimaDoAluno(corpo) ?? "?", pecas), atraso: 1 });
    const a = await ctx.abrir(usuario("leitora"));
    const r = await sucesso(a, "mensagem_enviada", { conteudo: "uma resposta enorme" });
    const [ev, fim] = await fimDaResposta(a, r.conversa_id, undefined, PRAZO_GRANDE).catch((e) => { aindaConectada(a, "the tab"); throw e; });
    assert.equal(ev, "mensagem_respondida", JSON.stringify(fim).slice(0, 300));
    assert.equal(fim.mensagem.status, "completa");
    assert.ok(fim.mensagem.conteudo === pecasPara("uma resposta enorme", pecas).join(""), "the model's text");
    assert.ok(textoTransmitido(a, fim.mensagem.id) === fim.mensagem.conteudo, "the deltas are the final text");
    aindaConectada(a, "the tab");
    await barreira(a).catch((e) => { aindaConectada(a, "the tab"); throw e; });
    log(`one answer of ${mb(fim.mensagem.conteudo.length)} through a ${mb(BUFFER_BYTES)} bound to a reading tab`);
  }));

  test(`tab B stops reading while ${CONVERSAS} conversations stream ${RODADAS} answers of ${mb(PECAS * TAMANHO_PECA)} each: ` +
    "A gets all, B is cut and catches up, the server's RSS stays far below what streamed past B", comDiagnostico(ctx, async () => {
    const sub = usuario("lia");
    const a = await ctx.abrir(sub);
    const b = await ctx.abrir(sub);
    /** Tutor messages each conversation has, as tab A saw them end. */
    const tutores = {};
    /** Sends `conteudo` from A into `c` and waits for A to see its answer end; returns it. */
    const perguntar = (c, conteudo) => perguntar1(c, conteudo).catch((e) => {
      aindaConectada(a, "tab A");
      if (!b.io.engine?.transport?.ws?.isPaused) aindaConectada(b, "tab B (still reading)");
      throw e;
    });
    const perguntar1 = async (c, conteudo) => {
      const conhecidas = new Set(tutores[c] ?? []);
      const r = await sucesso(a, "mensagem_enviada", c ? { conversa_id: c, conteudo } : { conteudo });
      const cid = r.conversa_id;
      const fim = await waitFor(a, "mensagem_respondida", (d) => d.conversa_id === cid && !conhecidas.has(d.mensagem.id), PRAZO_GRANDE);
      (tutores[cid] ??= []).push(fim.mensagem.id);
      return { cid, pergunta: conteudo, aluno: r.mensagem, tutor: fim.mensagem };
    };

    // N conversations with a small first answer (the model says "ok" to "conversa i", and the
    // big text to anything else); B joins every one.
    ctx.upstream.padrao({ partes: (corpo) => (ultimaDoAluno(corpo) ?? "").startsWith("conversa ") ? ["ok"] : pecasPara(ultimaDoAluno(corpo) ?? "?"), atraso: 1 });
    const convs = [];
    for (let i = 0; i < CONVERSAS; i++) convs.push((await perguntar(undefined, `conversa ${i}`)).cid);
    for (const c of convs) {
      const h = await sucesso(b, "entrar_conversa", { conversa_id: c });
      assert.equal(h.mensagens.at(-1).status, "completa");
    }

    // Warm-up with both tabs reading: big answers in the first conversations, so the baseline
    // below already holds what the server needs to stream answers of this size (its allocator's
    // high-water mark) and the growth measured is what it keeps for the stuck tab.
    await emPool(convs.slice(0, AQUECIMENTO).map((c, i) => async () => {
      const { tutor } = await perguntar(c, `aquecimento ${i}`);
      const [, fimB] = await fimDaResposta(b, c, tutor.id, PRAZO_GRANDE).catch((e) => { aindaConectada(b, "tab B (still reading)"); throw e; });
      assert.ok(fimB.mensagem.conteudo === tutor.conteudo, "tab B, reading, gets the warm-up answer whole");
      assert.ok(textoTransmitido(b, tutor.id) === tutor.conteudo);
    }), EM_PARALELO);
    await barreira(b);
    aindaConectada(a, "tab A");
    aindaConectada(b, "tab B (still reading)");

    // Tab B stops reading: the `ws` WebSocket under engine.io-client's transport, paused (its
    // TCP socket is no longer read, so the kernel's buffers fill and the server's queue grows).
    const engine = b.io.engine;
    assert.equal(engine.transport.name, "websocket");
    const ws = engine.transport.ws;
    assert.equal(typeof ws?.pause, "function", "the Node ws WebSocket under the transport");
    ws.pause();
    assert.equal(ws.isPaused, true);
    const nB = b.recebidos.length;

    // The big answers, EM_PARALELO at a time, while the server's RSS is sampled.
    const t0 = performance.now();
    const rss = amostrarRss(ctx.server.pid, 10);
    const grandes = [];
    let memoria;
    try {
      const trabalhos = [];
      for (let k = 0; k < RODADAS; k++) {
        convs.forEach((c, i) => trabalhos.push(async () => { grandes.push(await perguntar(c, `grande ${k}.${i}`)); }));
      }
      await emPool(trabalhos, EM_PARALELO);
    } finally {
      memoria = rss.parar();
    }
    const tStream = performance.now() - t0;

    // Tab A got every answer whole.
    let volume = 0;
    for (const { cid, pergunta, tutor } of grandes) {
      assert.equal(tutor.status, "completa");
      const esperado = pecasPara(pergunta).join("");
      assert.equal(tutor.conteudo.length, esperado.length, `answer to "${pergunta}": length`);
      assert.ok(tutor.conteudo === esperado, `answer to "${pergunta}": the model's text`);
      const texto = textoTransmitido(a, tutor.id); // throws on a gap in indice
      assert.ok(texto === tutor.conteudo, `tab A: the deltas of the answer to "${pergunta}" are its final text (${cid})`);
      volume += texto.length + tutor.conteudo.length; // what streamed past tab B for this answer
    }
    aindaConectada(a, "tab A");
    const crescimento = (memoria.max - memoria.base) * 1024;
    log(`stuck tab: ${grandes.length} answers of ${mb(PECAS * TAMANHO_PECA)} in ${CONVERSAS} conversations (${EM_PARALELO} at a time) ` +
      `in ${tStream.toFixed(0)} ms; ${mb(volume)} streamed past tab B; server RSS ${mb(memoria.base * 1024)} -> max ${mb(memoria.max * 1024)} ` +
      `(growth ${mb(crescimento)}, ${(100 * crescimento / volume).toFixed(1)}% of it; ${memoria.amostras} samples)`);

    // Tab B, read again: whatever it gets is gapless, then the server disconnects it.
    assert.ok(!b.recebidos.some(([e]) => e === "#disconnect"), "not yet disconnected while paused");
    const t1 = performance.now();
    ws.resume();
    const doB = () => {
      const recebido = b.recebidos.slice(nB);
      let bytes = 0;
      const inteiras = new Map();
      for (const [e, d] of recebido) {
        if (e === "resposta_parcial") bytes += d.delta.length;
        if (e === "mensagem_respondida") { bytes += d.mensagem.conteudo.length; inteiras.set(d.mensagem.id, d.mensagem); }
      }
      return { recebido, bytes, inteiras };
    };
    const motivo = await waitDisconnect(b, PRAZO_GRANDE).catch((e) => {
      const { recebido, bytes, inteiras } = doB();
      log(`tab B: after resume, ${recebido.length} events (${mb(bytes)} of text, ${inteiras.size} of ${grandes.length} answers whole) ` +
        `in ${(performance.now() - t1).toFixed(0)} ms and no disconnect`);
      throw e;
    });
    const { recebido: recebidoB, bytes: bytesB, inteiras } = doB();
    log(`tab B: after resume, ${recebidoB.length - 1} events (${mb(bytesB)} of text) in ${(performance.now() - t1).toFixed(0)} ms, ` +
      `then disconnect "${motivo}"; ${inteiras.size} of ${grandes.length} answers whole`);
    assert.equal(motivo, "io server disconnect", "the server disconnects the tab that fell behind");
    for (const { pergunta, tutor } of grandes) {
      const texto = textoTransmitido(b, tutor.id); // no gap, no repeat in what B did get
      assert.ok(tutor.conteudo.startsWith(texto), `tab B's pieces of the answer to "${pergunta}" are a prefix of it`);
      if (inteiras.has(tutor.id)) {
        assert.ok(texto === inteiras.get(tutor.id).conteudo, `tab B: a whole answer ("${pergunta}") is its deltas`);
        assert.ok(inteiras.get(tutor.id).conteudo === tutor.conteudo);
      }
    }
    assert.ok(inteiras.size < grandes.length, "tab B fell behind: it did not get everything before the disconnect");

    // B comes back and catches up with entrar_conversa + apos: the last message it holds in a
    // final status. What it gets is exactly the rest of the conversation as tab A knows it.
    await reconectar(b);
    for (const c of convs) {
      const tinha = b.recebidos.slice(nB).findLast(([e, d]) => (e === "mensagem_respondida" || e === "mensagem_recebida") && d.conversa_id === c);
      // The whole conversation as tab A saw it: its sends' acks and the answers, in order.
      const historia = a.recebidos.filter(([e, d]) => (e === "ack:mensagem_enviada" || e === "mensagem_respondida") && d.conversa_id === c)
        .map(([, d]) => d.mensagem);
      const ids = historia.map((m) => m.id);
      const apos = tinha ? tinha[1].mensagem.id : ids[ids.length - 1 - 2 * RODADAS];
      const h = await sucesso(b, "entrar_conversa", { conversa_id: c, apos });
      assert.equal(h.resposta_em_andamento ?? null, null);
      assert.deepEqual(h.mensagens.map((m) => m.id), ids.slice(ids.indexOf(apos) + 1), `catch-up in ${c} after ${apos}`);
      for (const m of h.mensagens) {
        const igual = historia.find((x) => x.id === m.id);
        assert.ok(m.conteudo === igual.conteudo && m.status === "completa", `tab B now holds message ${m.id} whole`);
      }
    }
    aindaConectada(a, "tab A");

    // The server did not hold what streamed past the stuck tab.
    assert.ok(crescimento < volume / 4,
      `server RSS growth ${mb(crescimento)} must stay far below the ${mb(volume)} streamed past the stuck tab (< 1/4)`);
  }));
});
