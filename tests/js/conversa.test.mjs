// The core stories with the stock socket.io-client, once per transport.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  PADRAO, TRANSPORTES, ack, connect, fakeUpstream, fimDaResposta, startServer, textoTransmitido, waitFor,
} from "./harness.mjs";

for (const [nome, transporte] of Object.entries(TRANSPORTES)) {
  describe(`over ${nome}`, () => {
    let upstream, server;
    before(async () => {
      upstream = await fakeUpstream();
      server = await startServer(upstream);
    });
    after(async () => {
      await server?.stop();
      await upstream?.close();
    });
    const abrir = (sub) => connect(server.url, server.token(sub), transporte);

    test("a message is acked, then its answer streams piece by piece", async () => {
      const a = await abrir("ana");
      const texto = "Olá\u0000 tutor 😀 — o que é uma fração?";
      const r = await ack(a, "mensagem_enviada", { conteudo: texto });
      assert.equal(r.ok, true);
      assert.equal(r.mensagem.conteudo, texto, "byte-exact");
      assert.equal(r.mensagem.papel, "aluno");
      assert.match(r.mensagem.criada_em, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(a.recebidos.length, 0, "the ack comes before any event about the message");
      const [ev, fim] = await fimDaResposta(a, r.conversa_id);
      assert.equal(ev, "mensagem_respondida");
      assert.equal(fim.mensagem.status, "completa");
      assert.equal(fim.mensagem.conteudo, PADRAO.join(""));
      assert.equal(textoTransmitido(a, fim.mensagem.id), fim.mensagem.conteudo);
      const nomes = a.recebidos.map(([e]) => e);
      assert.equal(nomes[0], "resposta_iniciada");
      assert.ok(!nomes.includes("mensagem_recebida"), "not echoed to the sender");
      a.close();
    });

    test("two tabs: the other sees the new conversation, the message and the same answer", async () => {
      const a = await abrir("bia");
      const b = await abrir("bia");
      const r = await ack(a, "mensagem_enviada", { conteudo: "primeira" });
      const criada = await waitFor(b, "conversa_criada", (d) => d.conversa.id === r.conversa_id);
      assert.equal(criada.conversa.titulo, "primeira");
      await fimDaResposta(a, r.conversa_id);
      const h = await ack(b, "entrar_conversa", { conversa_id: r.conversa_id });
      assert.equal(h.mensagens.length, 2);
      const r2 = await ack(a, "mensagem_enviada", { conversa_id: r.conversa_id, conteudo: "segunda" });
      const recebida = await waitFor(b, "mensagem_recebida", (d) => d.mensagem.id === r2.mensagem.id);
      assert.equal(recebida.mensagem.conteudo, "segunda");
      const fimB = await waitFor(b, "mensagem_respondida");
      const fimA = await waitFor(a, "mensagem_respondida", (d) => d.mensagem.id === fimB.mensagem.id);
      assert.deepEqual(fimA, fimB);
      assert.equal(textoTransmitido(b, fimB.mensagem.id), fimB.mensagem.conteudo);
      a.close(); b.close();
    });

    test("history in order, apos, and the list most recent first", async () => {
      const a = await abrir("caio");
      const r1 = await ack(a, "mensagem_enviada", { conteudo: "um" });
      await fimDaResposta(a, r1.conversa_id);
      const r2 = await ack(a, "mensagem_enviada", { conteudo: "outra conversa" });
      await fimDaResposta(a, r2.conversa_id);
      const h = await ack(a, "entrar_conversa", { conversa_id: r1.conversa_id });
      assert.deepEqual(h.mensagens.map((m) => m.papel), ["aluno", "tutor"]);
      const depois = await ack(a, "entrar_conversa", { conversa_id: r1.conversa_id, apos: h.mensagens[0].id });
      assert.deepEqual(depois.mensagens.map((m) => m.id), [h.mensagens[1].id]);
      const l = await ack(a, "listar_conversas", {});
      assert.deepEqual(l.conversas.map((c) => c.id), [r2.conversa_id, r1.conversa_id]);
      a.close();
    });

    test("a tab joining mid-answer gets the text so far, then exactly the rest", async () => {
      const partes = Array.from({ length: 12 }, (_, i) => `p${i} `);
      upstream.roteiro({ partes, atraso: 80 });
      const a = await abrir("davi");
      const r = await ack(a, "mensagem_enviada", { conteudo: "explique devagar" });
      await waitFor(a, "resposta_parcial", (d) => d.indice >= 2);
      const b = await abrir("davi");
      const h = await ack(b, "entrar_conversa", { conversa_id: r.conversa_id });
      assert.ok(h.resposta_em_andamento, "an answer is streaming");
      const { mensagem_id, conteudo } = h.resposta_em_andamento;
      const [, fim] = await fimDaResposta(b, r.conversa_id);
      const resto = b.recebidos
        .filter(([e, d]) => e === "resposta_parcial" && d.mensagem_id === mensagem_id)
        .map(([, d]) => d.delta)
        .join("");
      assert.equal(conteudo + resto, partes.join(""), "nothing twice, nothing missing");
      assert.equal(fim.mensagem.conteudo, partes.join(""));
      a.close(); b.close();
    });

    test("cancel stops the answer, keeps its text, and the next one is answered", async () => {
      upstream.roteiro({ partes: Array.from({ length: 50 }, (_, i) => `${i} `), atraso: 60 });
      const a = await abrir("eva");
      const r = await ack(a, "mensagem_enviada", { conteudo: "longa" });
      await waitFor(a, "resposta_parcial", (d) => d.indice >= 1);
      assert.deepEqual(await ack(a, "cancelar_resposta", { conversa_id: r.conversa_id }), { ok: true, cancelada: true });
      const [ev, fim] = await fimDaResposta(a, r.conversa_id);
      assert.equal(ev, "mensagem_respondida");
      assert.equal(fim.mensagem.status, "cancelada");
      assert.equal(fim.mensagem.conteudo, textoTransmitido(a, fim.mensagem.id));
      assert.ok(fim.mensagem.conteudo.length < 50 * 3);
      assert.deepEqual(await ack(a, "cancelar_resposta", { conversa_id: r.conversa_id }), { ok: true, cancelada: false });
      a.recebidos.length = 0;
      await ack(a, "mensagem_enviada", { conversa_id: r.conversa_id, conteudo: "e agora?" });
      const [, outra] = await fimDaResposta(a, r.conversa_id);
      assert.equal(outra.mensagem.status, "completa");
      a.close();
    });

    test("a failing model gives erro_resposta and the next message is answered", async () => {
      for (let i = 0; i < 3; i++) upstream.roteiro({ status: 500 });
      const a = await abrir("fabio");
      const r = await ack(a, "mensagem_enviada", { conteudo: "oi" });
      const [ev, fim] = await fimDaResposta(a, r.conversa_id);
      assert.equal(ev, "erro_resposta");
      assert.equal(fim.erro.codigo, "modelo_indisponivel");
      a.recebidos.length = 0;
      await ack(a, "mensagem_enviada", { conversa_id: r.conversa_id, conteudo: "de novo" });
      const [ev2] = await fimDaResposta(a, r.conversa_id);
      assert.equal(ev2, "mensagem_respondida");
      a.close();
    });

    test("a retried send with the same id_cliente returns the stored message", async () => {
      const a = await abrir("gil");
      const antes = upstream.pedidos.length;
      const p = { conteudo: "uma vez só", id_cliente: "cliente-1" };
      const r1 = await ack(a, "mensagem_enviada", p);
      await fimDaResposta(a, r1.conversa_id);
      const b = await abrir("gil");
      const r2 = await ack(b, "mensagem_enviada", p);
      assert.equal(r2.conversa_id, r1.conversa_id);
      assert.equal(r2.mensagem.id, r1.mensagem.id);
      assert.equal(upstream.pedidos.length, antes + 1, "no second answer");
      a.close(); b.close();
    });

    test("bad payloads get entrada_invalida and the socket keeps working", async () => {
      const a = await abrir("hugo");
      const casos = [
        [], [null], ["texto"], [42], [[1, 2]], [{}], [{ conteudo: 5 }], [{ conteudo: "   " }],
        [{ conteudo: "a".repeat(8001) }], [{ conteudo: "oi", conversa_id: "abc" }],
        [{ conteudo: "oi", id_cliente: "x".repeat(65) }],
      ];
      for (const args of casos) {
        const r = await ack(a, "mensagem_enviada", ...args);
        assert.equal(r.ok, false, JSON.stringify(args));
        assert.equal(r.erro.codigo, "entrada_invalida", JSON.stringify(args));
        assert.ok(r.erro.mensagem.length > 0);
      }
      const outra = await ack(a, "entrar_conversa", { conversa_id: crypto.randomUUID() });
      assert.equal(outra.erro.codigo, "nao_encontrada");
      const ok = await ack(a, "mensagem_enviada", { conteudo: "😀".repeat(8000) });
      assert.equal(ok.ok, true, "8000 emoji are 8000 characters");
      assert.ok(a.connected);
      a.close();
    });
  });
}
