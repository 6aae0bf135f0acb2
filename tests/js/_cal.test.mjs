// Issue 7, stories 1 and 2, with the stock socket.io-client.
//
// 1. A school behind one address: with the server's DEFAULT limits, 300 students (300 users,
//    every token valid) open the app from 127.0.0.1 at once and every one connects at the first
//    try (no reconnection) and gets its own answer, nothing else's; once per transport. And the
//    abuse side: handshakes whose token fails authentication ARE throttled per address (HTTP 429
//    past the burst), and a valid student connects once the budget refills.
// 2. A tab that stops reading: one user, two WebSocket tabs in N conversations whose answers are
//    megabytes each; tab B stops reading its TCP socket. Tab A gets every answer whole; tab B,
//    resumed, is disconnected by the server (never a stream with a gap) and catches up with
//    `entrar_conversa` + `apos`; the server's RSS grows far less than what streamed past tab B.
//
// Timings are printed (never asserted). `ESCOLA_ALUNOS` overrides the number of students.
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { describe, test } from "node:test";

import {
  PRAZO, TRANSPORTES, amostrarRss, barreira, comServidor, connect, emitAck, esperar, fimDaResposta,
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
// Story 2: a tab that stops reading

const WS = TRANSPORTES.websocket;
/** Conversations both tabs join; one big answer streams in each. */
const CONVERSAS = Number(process.env.ESCOLA_CONVERSAS ?? 40);
/** Answers streaming at the same time (the rest wait their turn). */
const EM_PARALELO = Number(process.env.ESCOLA_PARALELO ?? 2);
/** Each big answer: PECAS pieces of TAMANHO_PECA ASCII bytes. */
const PECAS = Number(process.env.ESCOLA_PECAS ?? 8);
const TAMANHO_PECA = Number(process.env.ESCOLA_TAMANHO_PECA ?? 256 * 1024);
const BUFFER_BYTES = 1 << 20;
const ENCHIMENTO = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(Math.ceil(TAMANHO_PECA / 36) + 1);
const pecasPara = (pergunta) => Array.from({ length: PECAS }, (_, j) => {
  const cabeca = `<${pergunta}#${j}>`;
  return cabeca + ENCHIMENTO.slice(0, TAMANHO_PECA - cabeca.length);
});
const mb = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;

/** Reconnects a socket the server closed; resolves once connected again. */
function reconectar(s, prazo = PRAZO) {
  return new Promise((ok, falha) => {
    const t = setTimeout(() => falha(new Error(`no reconnect within ${prazo} ms`)), prazo);
    s.once("connect", () => { clearTimeout(t); ok(); });
    s.once("connect_error", (e) => { clearTimeout(t); falha(e); });
    s.connect();
  });
}

describe("escola: uma aba que para de ler", () => {
  const ctx = comServidor(WS, { TUTOR_SOCKET_BUFFER_BYTES: String(BUFFER_BYTES), ...JSON.parse(process.env.CAL_ENV ?? "{}") });

  test(`tab B stops reading while ${CONVERSAS} conversations stream ${mb(PECAS * TAMANHO_PECA)} answers: A gets all, B is cut and catches up, RSS stays bounded`, async () => {
    const sub = usuario("lia");
    const a = await ctx.abrir(sub);
    const b = await ctx.abrir(sub);

    // N conversations, small first answers; B joins every one.
    const convs = [];
    for (let i = 0; i < CONVERSAS; i++) convs.push((await sucesso(a, "mensagem_enviada", { conteudo: `conversa ${i}` })).conversa_id);
    await Promise.all(convs.map((c) => fimDaResposta(a, c)));
    const primeiras = {};
    for (const c of convs) {
      const h = await sucesso(b, "entrar_conversa", { conversa_id: c });
      const ultima = h.mensagens.at(-1);
      assert.equal(ultima.papel, "tutor");
      assert.equal(ultima.status, "completa");
      primeiras[c] = ultima.id;
    }
    await barreira(b);

    // Tab B stops reading: the ws WebSocket under engine.io-client's transport, paused (its TCP
    // socket stops being read, so the kernel's buffers fill and the server's queue grows).
    const engine = b.io.engine;
    assert.equal(engine.transport.name, "websocket");
    const ws = engine.transport.ws;
    assert.equal(typeof ws?.pause, "function", "the Node ws WebSocket under the transport");
    ws.pause();
    assert.equal(ws.isPaused, true);
    const nB = b.recebidos.length;

    // The big answers, EM_PARALELO at a time, while the server's RSS is sampled.
    ctx.upstream.padrao({ partes: (corpo) => pecasPara(ultimaDoAluno(corpo) ?? "?"), atraso: 1 });
    const t0 = performance.now();
    const rss = amostrarRss(ctx.server.pid, 10);
    const fins = {};
    let proxima = 0;
    const trabalhador = async () => {
      while (proxima < convs.length) {
        const i = proxima++;
        const c = convs[i];
        const pergunta = `grande ${i}`;
        const r = await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: pergunta });
        const fim = await waitFor(a, "mensagem_respondida", (d) => d.conversa_id === c && d.mensagem.id !== primeiras[c], PRAZO);
        fins[c] = { pergunta, aluno: r.mensagem, tutor: fim.mensagem };
      }
    };
    let memoria;
    try {
      await Promise.all(Array.from({ length: EM_PARALELO }, trabalhador));
    } finally {
      memoria = rss.parar();
    }
    const tStream = performance.now() - t0;

    // Tab A got every answer whole.
    let volume = 0;
    for (const c of convs) {
      const { pergunta, tutor } = fins[c];
      assert.equal(tutor.status, "completa");
      const esperado = pecasPara(pergunta).join("");
      assert.equal(tutor.conteudo.length, esperado.length, `answer in ${c}: length`);
      assert.ok(tutor.conteudo === esperado, `answer in ${c}: the model's text`);
      const texto = textoTransmitido(a, tutor.id); // throws on a gap in indice
      assert.ok(texto === tutor.conteudo, `tab A: the deltas of ${c} are the final text`);
      volume += texto.length + tutor.conteudo.length; // what streamed past tab B for this answer
    }
    const crescimento = (memoria.max - memoria.base) * 1024;
    log(`stuck tab: ${CONVERSAS} answers of ${mb(PECAS * TAMANHO_PECA)} (${EM_PARALELO} at a time) in ${tStream.toFixed(0)} ms; ` +
      `${mb(volume)} streamed past tab B; server RSS ${mb(memoria.base * 1024)} -> max ${mb(memoria.max * 1024)} ` +
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
        if (e === "mensagem_respondida") { bytes += d.mensagem.conteudo.length; inteiras.set(d.conversa_id, d.mensagem); }
      }
      return { recebido, bytes, inteiras };
    };
    const motivo = await waitDisconnect(b, PRAZO).catch((e) => {
      const { recebido, bytes, inteiras } = doB();
      log(`tab B: after resume, ${recebido.length} events (${mb(bytes)} of text, ${inteiras.size} of ${CONVERSAS} answers whole) ` +
        `in ${(performance.now() - t1).toFixed(0)} ms and no disconnect`);
      throw e;
    });
    const { recebido: recebidoB, bytes: bytesB, inteiras } = doB();
    log(`tab B: after resume, ${recebidoB.length - 1} events (${mb(bytesB)} of text) in ${(performance.now() - t1).toFixed(0)} ms, then disconnect "${motivo}"; ` +
      `${inteiras.size} of ${CONVERSAS} answers whole`);
    assert.equal(motivo, "io server disconnect", "the server disconnects the tab that fell behind");
    for (const c of convs) {
      const id = fins[c].tutor.id;
      const texto = textoTransmitido(b, id); // no gap, no repeat in what B did get
      assert.ok(fins[c].tutor.conteudo.startsWith(texto), `tab B's pieces of ${c} are a prefix of the answer`);
      if (inteiras.has(c)) assert.ok(texto === inteiras.get(c).conteudo, `tab B: a whole answer in ${c} is its deltas`);
    }
    assert.ok(inteiras.size < CONVERSAS, "tab B fell behind: it did not get everything before the disconnect");

    // B comes back and catches up with entrar_conversa + apos (the last message it holds whole).
    await reconectar(b);
    for (const c of convs) {
      const tinha = [...b.recebidos.slice(nB)].reverse()
        .find(([e, d]) => (e === "mensagem_respondida" || e === "mensagem_recebida") && d.conversa_id === c);
      const apos = tinha ? tinha[1].mensagem.id : primeiras[c];
      const h = await sucesso(b, "entrar_conversa", { conversa_id: c, apos });
      assert.equal(h.resposta_em_andamento ?? null, null);
      const ids = h.mensagens.map((m) => m.id);
      const esperados = apos === fins[c].tutor.id ? [] : apos === fins[c].aluno.id ? [fins[c].tutor.id] : [fins[c].aluno.id, fins[c].tutor.id];
      assert.deepEqual(ids, esperados, `catch-up in ${c} after ${apos}`);
      const tutor = h.mensagens.find((m) => m.id === fins[c].tutor.id) ?? inteiras.get(c);
      assert.equal(tutor.status, "completa");
      assert.ok(tutor.conteudo === fins[c].tutor.conteudo, `tab B now holds the whole answer in ${c}`);
    }

    // The server did not hold what streamed past the stuck tab.
    assert.ok(crescimento < volume / 4,
      `server RSS growth ${mb(crescimento)} must stay far below the ${mb(volume)} streamed past the stuck tab (< 1/4)`);
    assert.deepEqual(await emitAck(a, "listar_conversas", {}).then((r) => r.ok), true);
  });
});
