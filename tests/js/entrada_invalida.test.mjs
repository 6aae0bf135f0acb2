// Payloads of the wrong shape, type or size: each is answered `entrada_invalida` with a
// sentence, nothing is stored, the model is not asked, and the socket keeps working.
// Once per transport.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { TRANSPORTES, barreira, comServidor, emitAck, fimDaResposta, novoId, sucesso, usuario } from "./harness.mjs";

const invalida = (r, caso) => {
  assert.equal(r?.ok, false, `${caso}: ${JSON.stringify(r)}`);
  assert.equal(r.erro?.codigo, "entrada_invalida", `${caso}: ${JSON.stringify(r)}`);
  assert.ok(typeof r.erro.mensagem === "string" && r.erro.mensagem.trim().length > 0, `${caso}: a sentence for the user`);
};

/** `[description, ...arguments]` of a `mensagem_enviada` that must be refused. */
const ENVIOS_RUINS = [
  ["no payload at all"],
  ["null", null],
  ["a string", "olá"],
  ["a number", 42],
  ["a boolean", true],
  ["an array", [{ conteudo: "oi" }]],
  ["an empty object", {}],
  ["conteudo null", { conteudo: null }],
  ["conteudo a number", { conteudo: 5 }],
  ["conteudo an object", { conteudo: { texto: "oi" } }],
  ["conteudo blank", { conteudo: "   " }],
  ["conteudo blank with newlines and tabs", { conteudo: " \n\t " }],
  ["conteudo empty", { conteudo: "" }],
  ["conteudo of 8001 characters", { conteudo: "a".repeat(8001) }],
  ["conteudo of 8001 emoji", { conteudo: "😀".repeat(8001) }],
  ["conversa_id not a UUID", { conversa_id: "not-a-uuid", conteudo: "oi" }],
  ["conversa_id a number", { conversa_id: 7, conteudo: "oi" }],
  ["id_cliente of 65 characters", { conteudo: "oi", id_cliente: "x".repeat(65) }],
  ["id_cliente a number", { conteudo: "oi", id_cliente: 12 }],
];

/** Other events with payloads of the wrong shape. */
const OUTROS_RUINS = [
  ["entrar_conversa", "no payload"],
  ["entrar_conversa", "null", null],
  ["entrar_conversa", "a string", "conversa"],
  ["entrar_conversa", "no conversa_id", {}],
  ["entrar_conversa", "conversa_id not a UUID", { conversa_id: "not-a-uuid" }],
  ["entrar_conversa", "conversa_id a number", { conversa_id: 1 }],
  ["sair_conversa", "no payload"],
  ["sair_conversa", "conversa_id not a UUID", { conversa_id: "x" }],
  ["cancelar_resposta", "no payload"],
  ["cancelar_resposta", "an array", [1, 2]],
  ["cancelar_resposta", "conversa_id not a UUID", { conversa_id: "x" }],
  ["listar_conversas", "a number", 3],
  ["listar_conversas", "usuario a number", { usuario: 3 }],
];

for (const [nome, transporte] of Object.entries(TRANSPORTES)) {
  describe(`entrada invalida over ${nome}`, () => {
    const ctx = comServidor(transporte);

    test("every bad send is entrada_invalida, stores nothing, asks no model, and the socket keeps working", async () => {
      const a = await ctx.abrir(usuario("hugo"));
      const pedidos = ctx.upstream.pedidos.length;
      for (const [caso, ...args] of ENVIOS_RUINS) invalida(await emitAck(a, "mensagem_enviada", ...args), caso);
      assert.ok(a.connected, "a bad payload never disconnects");
      assert.deepEqual((await sucesso(a, "listar_conversas", {})).conversas, [], "no conversation was created");
      assert.equal(ctx.upstream.pedidos.length, pedidos, "the model was not asked");

      const certo = await sucesso(a, "mensagem_enviada", { conteudo: "agora sim" });
      await fimDaResposta(a, certo.conversa_id);
      const fora = await emitAck(a, "mensagem_enviada", { conversa_id: novoId(), conteudo: "oi" });
      assert.equal(fora.erro?.codigo, "nao_encontrada", `a well-formed UUID of no conversation: ${JSON.stringify(fora)}`);
      // In an existing conversation, a bad message leaves no trace either.
      invalida(await emitAck(a, "mensagem_enviada", { conversa_id: certo.conversa_id, conteudo: "  " }), "blank in a conversation");
      invalida(await emitAck(a, "mensagem_enviada", { conversa_id: certo.conversa_id, conteudo: "b".repeat(8001) }), "long in a conversation");
      const h = await sucesso(a, "entrar_conversa", { conversa_id: certo.conversa_id });
      assert.equal(h.mensagens.length, 2, "only the good message and its answer");
      assert.equal((await sucesso(a, "listar_conversas", {})).conversas.length, 1);
    });

    test("the limits are counted in code points and null fields are absent", async () => {
      const a = await ctx.abrir(usuario("iara"));
      const emoji = "😀".repeat(8000);
      const r = await sucesso(a, "mensagem_enviada", { conteudo: emoji, id_cliente: "🔑".repeat(64) });
      assert.equal(r.mensagem.conteudo, emoji, "8000 emoji are 8000 characters, returned byte-exact");
      assert.equal(r.mensagem.id_cliente, "🔑".repeat(64), "64 emoji are a valid id_cliente");
      await fimDaResposta(a, r.conversa_id);
      const ascii = await sucesso(a, "mensagem_enviada", { conversa_id: r.conversa_id, conteudo: "a".repeat(8000) });
      assert.equal(ascii.mensagem.conteudo.length, 8000);
      // The longest JSON a valid message makes: every character escaped as \u0001.
      const controle = "\u0001".repeat(8000);
      const escapado = await sucesso(a, "mensagem_enviada", { conversa_id: r.conversa_id, conteudo: controle });
      assert.equal(escapado.mensagem.conteudo, controle);
      const nulos = await sucesso(a, "mensagem_enviada", { conversa_id: null, conteudo: "nulos", id_cliente: null });
      assert.notEqual(nulos.conversa_id, r.conversa_id, "conversa_id null counts as absent: a new conversation");
      assert.ok(nulos.mensagem.id_cliente == null);
    });

    // What a student pasting a long document sends: far over the limit, and over 64 KB.
    test("a paste far over the limit (70,000 characters) is refused with an ack, not a disconnect", async () => {
      const a = await ctx.abrir(usuario("kaua"));
      const r = await emitAck(a, "mensagem_enviada", { conteudo: "a".repeat(70_000) }).catch((e) => ({ falha: e.message }));
      assert.ok(a.connected, `the socket is still connected (got ${a.recebidos.map((x) => x[0])})`);
      assert.equal(r.ok, false, JSON.stringify(r).slice(0, 200));
      assert.ok(["entrada_invalida", "limite_excedido"].includes(r.erro?.codigo), JSON.stringify(r).slice(0, 200));
      const depois = await sucesso(a, "mensagem_enviada", { conteudo: "curta" });
      await fimDaResposta(a, depois.conversa_id);
    });

    test("bad payloads on the other events are entrada_invalida too, and the socket keeps working", async () => {
      const a = await ctx.abrir(usuario("joao"));
      for (const [ev, caso, ...args] of OUTROS_RUINS) invalida(await emitAck(a, ev, ...args), `${ev}: ${caso}`);
      assert.ok(a.connected);
      for (const ev of ["entrar_conversa", "sair_conversa", "cancelar_resposta"]) {
        const r = await emitAck(a, ev, { conversa_id: novoId() });
        assert.equal(r.erro?.codigo, "nao_encontrada", `${ev} with a UUID of no conversation: ${JSON.stringify(r)}`);
      }
      const r = await sucesso(a, "mensagem_enviada", { conteudo: "ainda funciona" });
      await fimDaResposta(a, r.conversa_id);
      await barreira(a);
      assert.ok(a.connected);
    });
  });
}

describe("limite de mensagens", () => {
  const ctx = comServidor({}, { TUTOR_MENSAGENS_POR_MINUTO: "3" });

  test("over the per-minute limit a send is limite_excedido, stores nothing, and the socket keeps working", async () => {
    const sub = usuario("lia");
    const a = await ctx.abrir(sub);
    const r = await sucesso(a, "mensagem_enviada", { conteudo: "1" });
    const c = r.conversa_id;
    await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: "2" });
    await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: "3" });
    const x = await emitAck(a, "mensagem_enviada", { conversa_id: c, conteudo: "4" });
    assert.equal(x.ok, false, JSON.stringify(x));
    assert.equal(x.erro.codigo, "limite_excedido");
    assert.ok(x.erro.mensagem.length > 0);
    if (x.erro.tentar_em_ms !== undefined) {
      assert.ok(Number.isInteger(x.erro.tentar_em_ms) && x.erro.tentar_em_ms > 0 && x.erro.tentar_em_ms <= 60_000, JSON.stringify(x));
    }
    // The limit is per user: another tab of the same user is limited too, another user is not.
    const b = await ctx.abrir(sub);
    assert.equal((await emitAck(b, "mensagem_enviada", { conversa_id: c, conteudo: "5" })).erro?.codigo, "limite_excedido");
    const outro = await ctx.abrir(usuario("mia"));
    await sucesso(outro, "mensagem_enviada", { conteudo: "livre" });
    assert.ok(a.connected);
    const h = await sucesso(a, "entrar_conversa", { conversa_id: c });
    assert.deepEqual(h.mensagens.filter((m) => m.papel === "aluno").map((m) => m.conteudo), ["1", "2", "3"], "the refused sends stored nothing");
  });
});
