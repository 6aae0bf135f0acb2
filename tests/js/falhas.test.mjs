// The model misbehaves: a rate limit that holds, a stream cut in the middle, silence before
// or after the first piece. Each answer ends in one `erro_resposta` with the text it had,
// and the next message is answered normally.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { PADRAO, comServidor, fimDaResposta, respostasIniciadas, sucesso, textoTransmitido, usuario, waitFor } from "./harness.mjs";

/**
 * Sends `conteudo` with the model scripted by `roteiro` (every attempt, retries included),
 * expects `erro_resposta` with `codigo`, checks the stored answer kept exactly what streamed,
 * then checks the next message is answered. Returns the kept text.
 */
async function falhaEDepoisResponde(ctx, roteiro, codigo, conteudo) {
  ctx.upstream.padrao(roteiro);
  const a = await ctx.abrir(usuario("ana"));
  const r = await sucesso(a, "mensagem_enviada", { conteudo });
  const c = r.conversa_id;
  const [ev, fim] = await fimDaResposta(a, c);
  assert.equal(ev, "erro_resposta", JSON.stringify(fim));
  assert.equal(fim.erro.codigo, codigo, JSON.stringify(fim));
  assert.ok(typeof fim.erro.mensagem === "string" && fim.erro.mensagem.trim().length > 0);
  ctx.upstream.reset();
  const enviado = textoTransmitido(a, fim.mensagem_id);
  const h = await sucesso(a, "entrar_conversa", { conversa_id: c });
  const tutor = h.mensagens.find((m) => m.id === fim.mensagem_id);
  assert.equal(tutor?.status, "erro", `the answer is stored as erro: ${JSON.stringify(h.mensagens)}`);
  assert.equal(tutor.conteudo, enviado, "it keeps exactly the text the tab saw");
  assert.equal(h.resposta_em_andamento ?? null, null);

  await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: "e agora?" });
  await waitFor(a, "resposta_iniciada", (d) => d.conversa_id === c && d.mensagem_id !== fim.mensagem_id);
  const id = respostasIniciadas(a, c).find((x) => x !== fim.mensagem_id);
  const [ev2, f2] = await fimDaResposta(a, c, id);
  assert.equal(ev2, "mensagem_respondida", JSON.stringify(f2));
  assert.equal(f2.mensagem.conteudo, PADRAO.join(""));
  assert.ok(!a.recebidos.some(([e, d]) => e === "mensagem_respondida" && d.mensagem.id === fim.mensagem_id),
    "no mensagem_respondida for the failed answer");
  return enviado;
}

describe("falhas do modelo", () => {
  const ctx = comServidor({ transports: ["websocket"] }, { TUTOR_UPSTREAM_TIMEOUT_MS: "600" });

  test("HTTP 500 on every attempt: modelo_indisponivel", async () => {
    assert.equal(await falhaEDepoisResponde(ctx, { status: 500 }, "modelo_indisponivel", "500"), "");
  });

  test("HTTP 429 on every attempt: limite_excedido", async () => {
    await falhaEDepoisResponde(ctx, { status: 429 }, "limite_excedido", "429");
  });

  test("a stream cut mid-answer (no finish_reason, no [DONE]): modelo_indisponivel with the text so far", async () => {
    const partes = ["Começo ", "da resposta"];
    const texto = await falhaEDepoisResponde(ctx, { partes, cortar: true, atraso: 10 }, "modelo_indisponivel", "cortada");
    assert.equal(texto, partes.join(""), "the pieces that came, once each");
  });

  test("silence after a piece: modelo_indisponivel with the text so far", async () => {
    const texto = await falhaEDepoisResponde(ctx, { partes: ["Pensando… "], pendurar: true }, "modelo_indisponivel", "muda depois");
    assert.equal(texto, "Pensando… ");
  });

  // TUTOR_UPSTREAM_TIMEOUT_MS is "no byte from the model for this long", first byte included.
  test("silence from the start (not even a status line): modelo_indisponivel with no text", async () => {
    assert.equal(await falhaEDepoisResponde(ctx, { pendurar: "antes" }, "modelo_indisponivel", "muda antes"), "");
  });

  test("silence after the role chunk, before any text: modelo_indisponivel with no text", async () => {
    assert.equal(await falhaEDepoisResponde(ctx, { partes: [], pendurar: true }, "modelo_indisponivel", "muda no meio"), "");
  });
});
