import { expect, test } from "vitest";

import { identidadeDoToken } from "./identidade";

const jwt = (claims: object) => {
  const b64 = (s: string) =>
    btoa(String.fromCharCode(...new TextEncoder().encode(s))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${b64('{"alg":"HS256"}')}.${b64(JSON.stringify(claims))}.assinatura`;
};

test("a teacher's token opens the class view; a name with accents survives base64url", () => {
  expect(identidadeDoToken(jwt({ sub: "p1", name: "Profª Márcia ✓", papel: "professor" }))).toEqual({
    sub: "p1", nome: "Profª Márcia ✓", papel: "professor",
  });
});

test("no papel, or an unknown one, is a student", () => {
  expect(identidadeDoToken(jwt({ sub: "a" }))?.papel).toBe("aluno");
  expect(identidadeDoToken(jwt({ sub: "a", papel: "admin" }))?.papel).toBe("aluno");
});

test("what is not a JWT with a sub reads as nobody", () => {
  expect(identidadeDoToken("isto não é um token")).toBeNull();
  expect(identidadeDoToken("a.!!!.c")).toBeNull();
  expect(identidadeDoToken(jwt({ papel: "professor" }))).toBeNull();
});
