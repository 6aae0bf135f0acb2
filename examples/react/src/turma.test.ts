import { describe, expect, test } from "vitest";

import type { EvConversaAtualizada, ResumoConversa } from "./protocol";
import { haQuanto } from "./tempo";
import { aplicarEvento, emGrupos, incluir, ordenar } from "./turma";

const linha = (id: string, atualizada_em: string, extra: Partial<ResumoConversa> = {}): ResumoConversa => ({
  id, titulo: `t-${id}`, criada_em: atualizada_em, atualizada_em, usuario: "ana", mensagens: 2, gerando: false,
  tokens_hoje: 10, ...extra,
});
const ids = (ls: ResumoConversa[]) => ls.map((l) => l.id);
const evento = (conversa_id: string, atualizada_em: string, gerando: boolean): EvConversaAtualizada => ({
  conversa_id, usuario: "ana", motivo: gerando ? "resposta_iniciada" : "resposta_terminada", gerando, atualizada_em,
});

describe("the class view's rows", () => {
  test("most recently active first, then by id descending, as the server pages", () => {
    const ls = [linha("a", "2026-01-01T10:00:00.000Z"), linha("c", "2026-01-01T09:00:00Z"), linha("b", "2026-01-01T10:00:00Z")];
    expect(ids(ordenar(ls))).toEqual(["b", "a", "c"]);
  });

  test("a later page adds only rows not on screen; a refresh replaces them", () => {
    const tela = [linha("a", "2026-01-01T10:00:00Z", { gerando: true })];
    const pagina = [linha("a", "2026-01-01T09:00:00Z"), linha("b", "2026-01-01T08:00:00Z")];
    expect(incluir(tela, pagina, false)).toEqual([tela[0], pagina[1]]);
    const refresco = [linha("a", "2026-01-01T11:00:00Z", { mensagens: 4 })];
    expect(incluir(tela, refresco, true)).toEqual(refresco);
  });

  test("an event moves its row to the top and says whether it is answering; an unknown one waits for the refresh", () => {
    const ls = [linha("a", "2026-01-01T10:00:00Z"), linha("b", "2026-01-01T09:00:00Z")];
    const depois = aplicarEvento(ls, evento("b", "2026-01-01T11:00:00Z", true));
    expect(ids(depois)).toEqual(["b", "a"]);
    expect(depois[0]).toMatchObject({ gerando: true, atualizada_em: "2026-01-01T11:00:00Z", mensagens: 2 });
    expect(aplicarEvento(ls, evento("x", "2026-01-01T12:00:00Z", true))).toBe(ls);
  });

  test("an event older than the row's activity does not move it back", () => {
    const ls = [linha("a", "2026-01-01T10:00:00Z", { gerando: true })];
    expect(aplicarEvento(ls, evento("a", "2026-01-01T09:00:00Z", false))[0]).toMatchObject({
      gerando: false, atualizada_em: "2026-01-01T10:00:00Z",
    });
  });

  test("ids go out at most 100 per request", () => {
    const muitos = Array.from({ length: 250 }, (_, i) => String(i));
    expect(emGrupos(muitos).map((g) => g.length)).toEqual([100, 100, 50]);
    expect(emGrupos([])).toEqual([]);
  });
});

test("how long ago, in Portuguese", () => {
  const agora = Date.parse("2026-03-10T12:00:00Z");
  expect(haQuanto("2026-03-10T11:59:40Z", agora)).toBe("agora");
  expect(haQuanto("2026-03-10T11:55:00Z", agora)).toBe("há 5 minutos");
  expect(haQuanto("2026-03-10T09:00:00Z", agora)).toBe("há 3 horas");
  expect(haQuanto("2026-03-09T12:00:00Z", agora)).toBe("ontem");
});
