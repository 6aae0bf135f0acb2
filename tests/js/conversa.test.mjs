// One student, one tab: send, watch the answer stream, read the history, stop an answer,
// survive a failing model, retry a send. Once per transport.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  PADRAO, PRAZO, RFC3339_MS, TRANSPORTES, UUID, barreira, comServidor, conteudoDe, emitAck, fimDaResposta, novoId,
  parciais, posicao, primeiraDoAluno, respostasIniciadas, sucesso, textoTransmitido, ultimaDoAluno, usuario, waitFor,
} from "./harness.mjs";

/** Resolves once the engine runs over WebSocket (the default client upgrades from polling). */
function aposUpgrade(s) {
  const engine = s.io.engine;
  if (engine.transport.name === "websocket") return Promise.resolve();
  return new Promise((ok, falha) => {
    const t = setTimeout(() => falha(new Error(`no upgrade to websocket within ${PRAZO} ms`)), PRAZO);
    engine.once("upgrade", () => { clearTimeout(t); ok(); });
  });
}

for (const [nome, transporte] of Object.entries(TRANSPORTES)) {
  describe(`conversa over ${nome}`, () => {
    const ctx = comServidor(transporte);

    test("a message is acked first, then its answer streams piece by piece into the stored text", async () => {
      const partes = ["Uma ", "fração é ", "parte 😀 ", "de um todo — ", "ação."];
      ctx.upstream.roteiro({ partes, atraso: 20 });
      const a = await ctx.abrir(usuario("ana"));
      if (nome !== "upgrade") assert.equal(a.io.engine.transport.name, nome);
      const texto = "Olá\u0000 tutor 😀 — o que é uma fração?\n\tçãõ 𝄞";
      const r = await emitAck(a, "mensagem_enviada", { conteudo: texto });

      assert.equal(r.ok, true, JSON.stringify(r));
      assert.match(r.conversa_id, UUID);
      const m = r.mensagem;
      assert.match(m.id, UUID);
      assert.equal(m.conversa_id, r.conversa_id);
      assert.equal(m.papel, "aluno");
      assert.equal(m.status, "completa");
      assert.equal(m.conteudo, texto, "the text comes back byte-exact, NUL and emoji included");
      assert.match(m.criada_em, RFC3339_MS);

      const [ev, fim] = await fimDaResposta(a, r.conversa_id);
      assert.equal(ev, "mensagem_respondida", JSON.stringify(fim));
      const t = fim.mensagem;
      assert.equal(t.papel, "tutor");
      assert.equal(t.status, "completa");
      assert.equal(t.conversa_id, r.conversa_id);
      assert.match(t.id, UUID);
      assert.match(t.criada_em, RFC3339_MS);
      assert.equal(t.conteudo, partes.join(""), "the stored answer is what the model sent");
      assert.equal(textoTransmitido(a, t.id), t.conteudo, "the deltas, indice 0,1,2…, make the stored answer");
      assert.ok(parciais(a, t.id).length >= 1);

      const iniciada = await waitFor(a, "resposta_iniciada", (d) => d.conversa_id === r.conversa_id);
      assert.equal(iniciada.mensagem_id, t.id);
      const pAck = posicao(a, (e) => e === "ack:mensagem_enviada");
      const pIni = posicao(a, (e) => e === "resposta_iniciada");
      const pPar = posicao(a, (e) => e === "resposta_parcial");
      const pFim = posicao(a, (e) => e === "mensagem_respondida");
      assert.ok(pAck === 0, `the ack comes before any event: ${a.recebidos.map((x) => x[0])}`);
      assert.ok(pIni < pPar && pPar < pFim, `started, pieces, answered: ${a.recebidos.map((x) => x[0])}`);
      assert.ok(!a.recebidos.some(([e]) => e === "mensagem_recebida"), "the sender's own message is not echoed to it");

      const [pedido, ...outros] = ctx.upstream.pedidosPara(texto);
      assert.equal(outros.length, 0, "the model is asked once");
      assert.equal(pedido.model, "modelo-teste");
      assert.equal(pedido.stream, true);

      if (nome === "upgrade") await aposUpgrade(a);
      else assert.equal(a.io.engine.transport.name, nome, "the transport asked for is the one used");
    });

    test("history in order, apos, the prompt carries the conversation, the list most recently active first", async () => {
      const a = await ctx.abrir(usuario("caio"));
      const r1 = await sucesso(a, "mensagem_enviada", { conteudo: "Frações equivalentes no sexto ano" });
      const c1 = r1.conversa_id;
      const [, t1] = await fimDaResposta(a, c1, undefined);
      const r2 = await sucesso(a, "mensagem_enviada", { conversa_id: c1, conteudo: "e decimais?" });
      assert.equal(r2.conversa_id, c1);
      const [, t2] = await fimDaResposta(a, c1, (await waitFor(a, "resposta_iniciada", (d) => d.mensagem_id !== t1.mensagem.id)).mensagem_id);

      const [pedido] = ctx.upstream.pedidosPara("e decimais?");
      const conversa = pedido.messages.filter((x) => x.role !== "system").map((x) => [x.role, conteudoDe(x)]);
      assert.deepEqual(conversa, [
        ["user", "Frações equivalentes no sexto ano"],
        ["assistant", PADRAO.join("")],
        ["user", "e decimais?"],
      ], "the model sees the earlier messages, in order");

      const r3 = await sucesso(a, "mensagem_enviada", { conteudo: "outra conversa" });
      const c2 = r3.conversa_id;
      assert.notEqual(c2, c1, "no conversa_id: a new conversation");
      await fimDaResposta(a, c2);

      const h = await sucesso(a, "entrar_conversa", { conversa_id: c1 });
      assert.equal(h.conversa.id, c1);
      assert.ok(h.conversa.titulo.startsWith("Frações"), `title from the first words: ${h.conversa.titulo}`);
      assert.match(h.conversa.criada_em, RFC3339_MS);
      assert.match(h.conversa.atualizada_em, RFC3339_MS);
      assert.equal(h.resposta_em_andamento ?? null, null, "nothing streaming");
      assert.deepEqual(h.mensagens.map((x) => x.id), [r1.mensagem.id, t1.mensagem.id, r2.mensagem.id, t2.mensagem.id]);
      assert.deepEqual(h.mensagens[0], r1.mensagem, "history returns the message as the ack did");
      assert.deepEqual(h.mensagens[1], t1.mensagem, "history returns the answer as mensagem_respondida did");
      assert.deepEqual(h.mensagens.map((x) => x.status), ["completa", "completa", "completa", "completa"]);

      const ids = (x) => x.mensagens.map((m) => m.id);
      assert.deepEqual(ids(await sucesso(a, "entrar_conversa", { conversa_id: c1, apos: t1.mensagem.id })), [r2.mensagem.id, t2.mensagem.id]);
      assert.deepEqual(ids(await sucesso(a, "entrar_conversa", { conversa_id: c1, apos: r1.mensagem.id })), ids(h).slice(1));
      assert.deepEqual(ids(await sucesso(a, "entrar_conversa", { conversa_id: c1, apos: t2.mensagem.id })), []);
      assert.deepEqual(ids(await sucesso(a, "entrar_conversa", { conversa_id: c1, apos: novoId() })), ids(h), "an unknown apos gets everything");
      assert.deepEqual(ids(await sucesso(a, "entrar_conversa", { conversa_id: c1, apos: r3.mensagem.id })), ids(h), "a message of another conversation gets everything");

      let l = await sucesso(a, "listar_conversas", {});
      assert.deepEqual(l.conversas.map((c) => c.id), [c2, c1]);
      assert.equal(l.conversas[1].titulo, h.conversa.titulo);
      await sucesso(a, "mensagem_enviada", { conversa_id: c1, conteudo: "mais uma" });
      await waitFor(a, "mensagem_respondida", (d) => d.conversa_id === c1 && ![t1.mensagem.id, t2.mensagem.id].includes(d.mensagem.id));
      l = await sucesso(a, "listar_conversas", {});
      assert.deepEqual(l.conversas.map((c) => c.id), [c1, c2], "the conversation just used moves to the top");
    });

    test("messages sent back to back are stored in order and answered one at a time, in order", async () => {
      const a = await ctx.abrir(usuario("duda"));
      const r0 = await sucesso(a, "mensagem_enviada", { conteudo: "zero" });
      const c = r0.conversa_id;
      await fimDaResposta(a, c);
      const textos = ["um", "dois", "três", "quatro", "cinco"];
      const acks = await Promise.all(textos.map((t) => emitAck(a, "mensagem_enviada", { conversa_id: c, conteudo: t })));
      for (const x of acks) assert.equal(x.ok, true, JSON.stringify(x));
      await ctx.upstream.ate(() => ctx.upstream.pedidosPara("cinco").length === 1, "the fifth prompt");
      const respostas = () => a.recebidos.filter(([e, d]) => e === "mensagem_respondida" && d.conversa_id === c);
      await waitFor(a, "mensagem_respondida", () => respostas().length === 6);

      const h = await sucesso(a, "entrar_conversa", { conversa_id: c });
      const doAluno = h.mensagens.filter((m) => m.papel === "aluno");
      assert.deepEqual(doAluno.map((m) => m.conteudo), ["zero", ...textos], "stored in the order sent");
      assert.deepEqual(doAluno.slice(1).map((m) => m.id), acks.map((x) => x.mensagem.id));
      const ordem = ctx.upstream.pedidos.map(ultimaDoAluno).filter((t) => textos.includes(t));
      assert.deepEqual(ordem, textos, "answered in the order stored");
      // One at a time: each answer starts after the previous one ended.
      const eventos = a.recebidos.filter(([e, d]) => ["resposta_iniciada", "mensagem_respondida"].includes(e) && d.conversa_id === c).map(([e]) => e);
      assert.deepEqual(eventos, Array(6).fill(["resposta_iniciada", "mensagem_respondida"]).flat());
      for (const [, d] of respostas()) assert.equal(textoTransmitido(a, d.mensagem.id), d.mensagem.conteudo);
    });

    test("a message sent while an answer streams is acked at once and answered next, with that answer in its prompt", async () => {
      const lentas = Array.from({ length: 15 }, (_, i) => `p${i} `);
      ctx.upstream.roteiro({ partes: lentas, atraso: 60 });
      const a = await ctx.abrir(usuario("enzo"));
      const r1 = await sucesso(a, "mensagem_enviada", { conteudo: "primeira" });
      const c = r1.conversa_id;
      const { mensagem_id: id1 } = await waitFor(a, "resposta_parcial", (d) => d.conversa_id === c && d.indice >= 1);
      const r2 = await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: "segunda" });
      const pAck2 = posicao(a, (e, d) => e === "ack:mensagem_enviada" && d.mensagem?.id === r2.mensagem.id);
      const fim1 = posicao(a, (e, d) => e === "mensagem_respondida" && d.mensagem.id === id1);
      assert.ok(fim1 === -1 || pAck2 < fim1, "the second send is not held until the first answer ends");
      const [, f1] = await fimDaResposta(a, c, id1);
      assert.equal(f1.mensagem.conteudo, lentas.join(""));
      const ids = () => respostasIniciadas(a, c);
      await waitFor(a, "resposta_iniciada", () => ids().length === 2);
      const [ev2, f2] = await fimDaResposta(a, c, ids()[1]);
      assert.equal(ev2, "mensagem_respondida");
      assert.ok(posicao(a, (e, d) => e === "mensagem_respondida" && d.mensagem.id === id1) <
        posicao(a, (e, d) => e === "resposta_iniciada" && d.mensagem_id === f2.mensagem.id), "answered next, not in parallel");
      const [pedido] = ctx.upstream.pedidosPara("segunda");
      assert.ok(pedido.messages.some((x) => x.role === "assistant" && conteudoDe(x) === lentas.join("")),
        "the second prompt holds the whole first answer");
    });

    test("cancel stops the answer now, keeps its text, and the conversation goes on", async () => {
      const partes = Array.from({ length: 60 }, (_, i) => `${i} `);
      const a = await ctx.abrir(usuario("eva"));
      const parado = await sucesso(a, "mensagem_enviada", { conteudo: "nada a cancelar" });
      await fimDaResposta(a, parado.conversa_id);
      assert.deepEqual(await emitAck(a, "cancelar_resposta", { conversa_id: parado.conversa_id }), { ok: true, cancelada: false },
        "nothing streaming: nothing cancelled");

      ctx.upstream.roteiro({ partes, atraso: 60 });
      const r = await sucesso(a, "mensagem_enviada", { conteudo: "longa" });
      const c = r.conversa_id;
      await waitFor(a, "resposta_parcial", (d) => d.conversa_id === c && d.indice >= 1);
      const n = ctx.upstream.pedidos.findIndex((x) => ultimaDoAluno(x) === "longa");
      assert.deepEqual(await emitAck(a, "cancelar_resposta", { conversa_id: c }), { ok: true, cancelada: true });
      const [ev, fim] = await fimDaResposta(a, c);
      assert.equal(ev, "mensagem_respondida", JSON.stringify(fim));
      assert.equal(fim.mensagem.status, "cancelada");
      const texto = fim.mensagem.conteudo;
      assert.equal(texto, textoTransmitido(a, fim.mensagem.id), "the kept text is what the tab saw");
      assert.ok(texto.length > 0 && partes.join("").startsWith(texto) && texto.length < partes.join("").length,
        `a strict, non-empty prefix of the answer: ${JSON.stringify(texto)}`);
      await ctx.upstream.ate(() => ctx.upstream.desfechos[n] !== "andamento", "the upstream request to end");
      assert.equal(ctx.upstream.desfechos[n], "fechado", "the model's stream is dropped, not read to the end");

      const h = await sucesso(a, "entrar_conversa", { conversa_id: c });
      assert.deepEqual(h.mensagens.find((m) => m.id === fim.mensagem.id), fim.mensagem, "stored as cancelada with the same text");
      assert.deepEqual(await emitAck(a, "cancelar_resposta", { conversa_id: c }), { ok: true, cancelada: false });

      const r2 = await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: "e agora?" });
      const [ev2, f2] = await fimDaResposta(a, c, (await waitFor(a, "resposta_iniciada", (d) => d.conversa_id === c && d.mensagem_id !== fim.mensagem.id)).mensagem_id);
      assert.equal(ev2, "mensagem_respondida");
      assert.equal(f2.mensagem.status, "completa");
      assert.equal(f2.mensagem.conteudo, PADRAO.join(""));
      assert.equal(r2.conversa_id, c);
    });

    test("cancel stops only the streaming answer: the message queued behind it is still answered", async () => {
      ctx.upstream.roteiro({ partes: Array.from({ length: 60 }, (_, i) => `${i} `), atraso: 60 });
      const a = await ctx.abrir(usuario("fred"));
      const r1 = await sucesso(a, "mensagem_enviada", { conteudo: "primeira longa" });
      const c = r1.conversa_id;
      const { mensagem_id: id1 } = await waitFor(a, "resposta_parcial", (d) => d.conversa_id === c);
      await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: "na fila" });
      assert.deepEqual(await emitAck(a, "cancelar_resposta", { conversa_id: c }), { ok: true, cancelada: true });
      const [, f1] = await fimDaResposta(a, c, id1);
      assert.equal(f1.mensagem.status, "cancelada");
      await waitFor(a, "resposta_iniciada", () => respostasIniciadas(a, c).length === 2);
      const [ev2, f2] = await fimDaResposta(a, c, respostasIniciadas(a, c)[1]);
      assert.equal(ev2, "mensagem_respondida");
      assert.equal(f2.mensagem.status, "completa");
      assert.equal(ultimaDoAluno(ctx.upstream.pedidos.at(-1)), "na fila");
    });

    test("a failing model gives erro_resposta, keeps the student's message, and the next message is answered", async () => {
      ctx.upstream.padrao({ status: 500 });
      const a = await ctx.abrir(usuario("gabi"));
      const r = await sucesso(a, "mensagem_enviada", { conteudo: "oi" });
      const c = r.conversa_id;
      const [ev, fim] = await fimDaResposta(a, c);
      assert.equal(ev, "erro_resposta", JSON.stringify(fim));
      assert.equal(fim.erro.codigo, "modelo_indisponivel");
      assert.ok(typeof fim.erro.mensagem === "string" && fim.erro.mensagem.trim().length > 0);
      assert.match(fim.mensagem_id, UUID);
      assert.ok(ctx.upstream.pedidosPara("oi").length >= 1);
      ctx.upstream.reset();

      const h = await sucesso(a, "entrar_conversa", { conversa_id: c });
      assert.deepEqual(h.mensagens[0], r.mensagem, "the student's message is kept");
      const falha = h.mensagens.find((m) => m.id === fim.mensagem_id);
      assert.equal(falha?.status, "erro", "the failed answer is stored with status erro");
      assert.equal(falha.papel, "tutor");

      const r2 = await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: "de novo" });
      const { mensagem_id } = await waitFor(a, "resposta_iniciada", (d) => d.conversa_id === c && d.mensagem_id !== fim.mensagem_id);
      const [ev2, f2] = await fimDaResposta(a, c, mensagem_id);
      assert.equal(ev2, "mensagem_respondida");
      assert.equal(f2.mensagem.conteudo, PADRAO.join(""));
      assert.equal(r2.ok, true);
      assert.ok(!a.recebidos.some(([e, d]) => e === "mensagem_respondida" && d.mensagem.id === fim.mensagem_id),
        "no mensagem_respondida after erro_resposta");
    });

    test("a retried send with the same id_cliente returns the stored message and starts no second answer", async () => {
      const sub = usuario("hugo");
      const a = await ctx.abrir(sub);
      const p = { conteudo: "uma vez só", id_cliente: `cli-${novoId()}` };
      const r1 = await sucesso(a, "mensagem_enviada", p);
      assert.equal(r1.mensagem.id_cliente, p.id_cliente);
      const c = r1.conversa_id;
      await fimDaResposta(a, c);
      const r2 = await sucesso(a, "mensagem_enviada", p);
      assert.equal(r2.conversa_id, c, "the retry does not create a second conversation");
      assert.deepEqual(r2.mensagem, r1.mensagem);
      const b = await ctx.abrir(sub);
      const r3 = await sucesso(b, "mensagem_enviada", p);
      assert.equal(r3.conversa_id, c);
      assert.equal(r3.mensagem.id, r1.mensagem.id);

      // Two copies in flight at once, as a client that retries quickly sends them.
      const q = { conversa_id: c, conteudo: "duas vezes ao mesmo tempo", id_cliente: `cli-${novoId()}` };
      const [q1, q2] = await Promise.all([emitAck(a, "mensagem_enviada", q), emitAck(a, "mensagem_enviada", q)]);
      assert.equal(q1.ok && q2.ok, true, JSON.stringify([q1, q2]));
      assert.equal(q1.mensagem.id, q2.mensagem.id);
      await waitFor(a, "resposta_iniciada", () => respostasIniciadas(a, c).length === 2);
      await fimDaResposta(a, c, respostasIniciadas(a, c)[1]);

      // A later message, answered after anything the retries could have queued.
      const depois = await sucesso(b, "mensagem_enviada", { conversa_id: c, conteudo: "depois" });
      await waitFor(a, "mensagem_recebida", (d) => d.mensagem.id === depois.mensagem.id);
      await waitFor(a, "resposta_iniciada", () => respostasIniciadas(a, c).length === 3);
      await fimDaResposta(a, c, respostasIniciadas(a, c)[2]);
      await barreira(a);
      assert.equal(respostasIniciadas(a, c).length, 3, "one answer per distinct message");
      const desta = ctx.upstream.pedidos.filter((x) => primeiraDoAluno(x) === p.conteudo);
      assert.deepEqual(desta.map(ultimaDoAluno), [p.conteudo, q.conteudo, "depois"], "the model was asked once per distinct message");
      const h = await sucesso(a, "entrar_conversa", { conversa_id: c });
      assert.deepEqual(h.mensagens.filter((m) => m.papel === "aluno").map((m) => m.conteudo), [p.conteudo, q.conteudo, "depois"], "stored once each");

      const outro = await ctx.abrir(usuario("ivo"));
      const alheio = await sucesso(outro, "mensagem_enviada", p);
      assert.notEqual(alheio.mensagem.id, r1.mensagem.id, "another user's id_cliente is theirs alone");
      assert.notEqual(alheio.conversa_id, c);
    });
  });
}
