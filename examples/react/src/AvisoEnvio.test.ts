import { expect, test } from "vitest";

import { avisoDoErro, bloqueadoAte, quando } from "./AvisoEnvio";

test("the daily budget's refusal says when it renews; other refusals only their sentence", () => {
  const agora = Date.parse("2026-03-10T15:00:00Z");
  const orcamento = avisoDoErro(
    { codigo: "limite_excedido", mensagem: "Você usou todo o seu limite diário.", tentar_em_ms: 9 * 3_600_000, limite: "tokens_por_dia" },
    agora,
  );
  expect(orcamento).toEqual({ texto: "Você usou todo o seu limite diário.", renovaEm: new Date("2026-03-11T00:00:00Z") });
  expect(avisoDoErro({ codigo: "limite_excedido", mensagem: "Devagar.", tentar_em_ms: 2_000 }, agora)).toEqual({ texto: "Devagar." });
  expect(avisoDoErro({ codigo: "entrada_invalida", mensagem: "Longa demais." }, agora)).toEqual({ texto: "Longa demais." });
});

test("sending stays closed until the budget renews, and only for the budget", () => {
  const agora = Date.parse("2026-03-10T15:00:00Z");
  const renovaEm = new Date("2026-03-11T00:00:00Z");
  expect(bloqueadoAte({ texto: "Limite.", renovaEm }, agora)).toEqual(renovaEm);
  expect(bloqueadoAte({ texto: "Limite.", renovaEm }, renovaEm.getTime())).toBeNull();
  expect(bloqueadoAte({ texto: "Devagar." }, agora)).toBeNull();
  expect(bloqueadoAte(null, agora)).toBeNull();
});

test("when, in the student's words", () => {
  const agora = new Date(2026, 2, 10, 15, 0);
  expect(quando(new Date(2026, 2, 10, 21, 0), agora)).toBe("hoje às 21:00");
  expect(quando(new Date(2026, 2, 11, 0, 0), agora)).toBe("amanhã às 00:00");
  expect(quando(new Date(2026, 2, 13, 0, 30), agora)).toBe("em 13 de março às 00:30");
});
