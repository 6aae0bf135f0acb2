// Who the token says the user is, read from the JWT's payload without checking it: only to
// choose the student's chat or the teacher's class view. The server checks the signature
// and refuses a teacher's events to anyone else.

export interface Identidade {
  sub: string;
  nome?: string;
  papel: "aluno" | "professor";
}

/** The token's claims, or null when it is not a readable JWT (the server will refuse it). */
export function identidadeDoToken(token: string): Identidade | null {
  const partes = token.split(".");
  if (partes.length !== 3) return null;
  try {
    const base64 = partes[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof claims !== "object" || claims === null) return null;
    const { sub, name, papel } = claims as Record<string, unknown>;
    if (typeof sub !== "string") return null;
    return {
      sub,
      nome: typeof name === "string" ? name : undefined,
      papel: papel === "professor" ? "professor" : "aluno",
    };
  } catch {
    return null;
  }
}
