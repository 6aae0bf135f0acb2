// The server process as an operator and a student see it: health checks, a SIGTERM in the
// middle of answers, a crash in the middle of an answer, and the demo tutor.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";

import {
  connect, fakeUpstream, fimDaResposta, parciais, respostasIniciadas, startServer, sucesso, usuario, waitFor,
} from "./harness.mjs";

const WS = { transports: ["websocket"] };

/** Once connected, the answer to the last message of `c` as stored, waiting if it streams. */
async function respostaFinal(s, c) {
  const h = await sucesso(s, "entrar_conversa", { conversa_id: c });
  const ultima = h.mensagens.at(-1);
  if (ultima.papel === "tutor" && ultima.status !== "gerando") return [h, ultima];
  const [ev, fim] = await fimDaResposta(s, c, h.resposta_em_andamento?.mensagem_id);
  assert.equal(ev, "mensagem_respondida", JSON.stringify(fim));
  return [h, fim.mensagem];
}

describe("processo", () => {
  let upstream;
  const dirs = [];
  before(async () => { upstream = await fakeUpstream(); });
  after(async () => {
    await upstream.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("/health and /ready answer 200 while serving", async () => {
    const server = await startServer({ upstream });
    try {
      assert.equal((await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(5000) })).status, 200);
      assert.equal((await fetch(`${server.url}/ready`, { signal: AbortSignal.timeout(5000) })).status, 200);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test("a SIGTERM as soon as the server listens is a graceful stop (exit 0), five times over", async () => {
    // The signal handlers used to be installed only once serving had begun: a SIGTERM in
    // the first milliseconds after `listening on` killed the process (no exit code at all).
    for (let i = 0; i < 5; i++) {
      const server = await startServer({ upstream });
      assert.equal(await server.stop(), 0, `start ${i + 1}: exit 0 on an early SIGTERM`);
    }
  });

  test("SIGTERM: an answer that fits the grace period completes, one that does not ends as interrompida; exit 0", async () => {
    upstream.reset();
    const env = { TUTOR_SHUTDOWN_GRACE_MS: "1500" };
    const server = await startServer({ upstream, env });
    dirs.push(server.dir);
    const sub = usuario("ana");
    const rapida = Array.from({ length: 8 }, (_, i) => `r${i} `);
    upstream.roteiro({ partes: rapida, atraso: 100 });
    upstream.roteiro({ partes: ["Começo ", "interrompido "], pendurar: true, atraso: 10 });
    const a = await connect(server.url, server.token(sub), WS);
    let x, y, idY;
    try {
      x = (await sucesso(a, "mensagem_enviada", { conteudo: "cabe na graça" })).conversa_id;
      await waitFor(a, "resposta_parcial", (d) => d.conversa_id === x);
      y = (await sucesso(a, "mensagem_enviada", { conteudo: "não cabe" })).conversa_id;
      ({ mensagem_id: idY } = await waitFor(a, "resposta_parcial", (d) => d.conversa_id === y && d.indice >= 0));
      await waitFor(a, "resposta_parcial", (d) => d.conversa_id === y && parciais(a, idY).map((p) => p.delta).join("") === "Começo interrompido ");
      assert.ok(!a.recebidos.some(([e, d]) => e === "mensagem_respondida" && d.conversa_id === x), "the first answer is still streaming at SIGTERM");
      assert.equal(await server.stop({ manter: true }), 0, "exit 0 on SIGTERM");
    } finally {
      a.close();
    }
    const fimY = a.recebidos.find(([e, d]) => e === "erro_resposta" && d.conversa_id === y);
    assert.ok(fimY, `the room is told: ${a.recebidos.map((r) => r[0])}`);
    assert.equal(fimY[1].erro.codigo, "interrompida");
    assert.equal(fimY[1].mensagem_id, idY);

    upstream.reset();
    const de_novo = await startServer({ upstream, env, dir: server.dir, secret: server.secret });
    const b = await connect(de_novo.url, de_novo.token(sub), WS);
    try {
      const hx = await sucesso(b, "entrar_conversa", { conversa_id: x });
      assert.deepEqual(hx.mensagens.map((m) => [m.papel, m.status, m.conteudo]),
        [["aluno", "completa", "cabe na graça"], ["tutor", "completa", rapida.join("")]], "finished within the grace period");
      const hy = await sucesso(b, "entrar_conversa", { conversa_id: y });
      assert.deepEqual(hy.mensagens.map((m) => [m.papel, m.status, m.conteudo]),
        [["aluno", "completa", "não cabe"], ["tutor", "erro", "Começo interrompido "]], "ended as erro with the text it had");
      assert.equal(hy.resposta_em_andamento ?? null, null);
    } finally {
      b.close();
      assert.equal(await de_novo.stop(), 0);
    }
  });

  test("after a crash no answer stays gerando, and a message never answered is answered", async () => {
    upstream.reset();
    const server = await startServer({ upstream });
    dirs.push(server.dir);
    const sub = usuario("bia");
    upstream.roteiro({ partes: ["Metade ", "da resposta "], pendurar: true, atraso: 10 });
    const a = await connect(server.url, server.token(sub), WS);
    let c, idCortada;
    try {
      const r = await sucesso(a, "mensagem_enviada", { conteudo: "antes do crash" });
      c = r.conversa_id;
      ({ mensagem_id: idCortada } = await waitFor(a, "resposta_parcial", (d) => d.conversa_id === c));
      await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: "na fila do crash" });
      assert.equal(respostasIniciadas(a, c).length, 1, "the second message is still waiting its turn");
      await server.stop({ manter: true, sinal: "SIGKILL" });
    } finally {
      a.close();
    }

    upstream.reset();
    const de_novo = await startServer({ upstream, dir: server.dir, secret: server.secret });
    const b = await connect(de_novo.url, de_novo.token(sub), WS);
    try {
      const [h, resposta] = await respostaFinal(b, c);
      const cortada = h.mensagens.find((m) => m.id === idCortada);
      assert.equal(cortada?.status, "erro", `the interrupted answer is ended as erro: ${JSON.stringify(h.mensagens)}`);
      assert.ok("Metade da resposta ".startsWith(cortada.conteudo), "keeping at most the text it had");
      assert.ok(!h.mensagens.some((m) => m.status === "gerando" && m.id === idCortada));
      const alunos = h.mensagens.filter((m) => m.papel === "aluno").map((m) => m.conteudo);
      assert.deepEqual(alunos, ["antes do crash", "na fila do crash"]);
      assert.equal(resposta.papel, "tutor");
      assert.equal(resposta.status, "completa", "the queued message is answered after the restart");
      assert.ok(upstream.pedidosPara("na fila do crash").length >= 1);
    } finally {
      b.close();
      assert.equal(await de_novo.stop(), 0);
    }
  });

  test("with no model configured, the demo tutor answers and says it is a demo", async () => {
    const server = await startServer({ upstream, env: { OPENAI_API_KEY: "", OPENAI_BASE_URL: "", TUTOR_DEMO_ATRASO_MS: "1" } });
    const a = await connect(server.url, server.token(usuario("caio")));
    try {
      const antes = upstream.pedidos.length;
      const r = await sucesso(a, "mensagem_enviada", { conteudo: "oi, demo?" });
      const [ev, fim] = await fimDaResposta(a, r.conversa_id);
      assert.equal(ev, "mensagem_respondida", JSON.stringify(fim));
      assert.equal(fim.mensagem.status, "completa");
      assert.match(fim.mensagem.conteudo, /demo|demonstra/i);
      assert.equal(upstream.pedidos.length, antes, "no model was asked");
      assert.match(server.logs, /demo|demonstra/i, "the log says it runs the demo tutor");
    } finally {
      a.close();
      assert.equal(await server.stop(), 0);
    }
  });
});
