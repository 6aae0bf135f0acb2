// Log in by pasting a token; in demo mode the server hands out guest tokens (loopback only).
import { useEffect, useState } from "react";

/** A demo guest: a student, or a teacher to try the class view. */
export interface Visitante {
  sub: string;
  papel: "aluno" | "professor";
}

/** A demo guest's token, or null when the server is not in demo mode (404). */
export async function tokenDeVisitante(v: Visitante): Promise<string | null> {
  const r = await fetch(`/dev/token?sub=${encodeURIComponent(v.sub)}&papel=${v.papel}`);
  if (!r.ok) return null;
  const { token } = (await r.json()) as { token?: unknown };
  return typeof token === "string" ? token : null;
}

interface Props {
  /** A token to log in with; `visitante` is the demo guest, to renew it later. */
  onToken: (t: string, visitante?: Visitante) => void;
}

export function Login({ onToken }: Props) {
  const [texto, setTexto] = useState("");
  const [demo, setDemo] = useState(false);
  const [erro, setErro] = useState<string | null>(null);

  useEffect(() => {
    // The endpoint exists only in demo mode; anywhere else it answers 404 and the guest
    // button stays hidden.
    let vivo = true;
    fetch("/dev/token?sub=sonda")
      .then((r) => vivo && setDemo(r.ok))
      .catch(() => vivo && setDemo(false));
    return () => {
      vivo = false;
    };
  }, []);

  const visitante = async (papel: Visitante["papel"]) => {
    const prefixo = papel === "professor" ? "professor" : "visitante";
    const v: Visitante = { sub: `${prefixo}-${Math.random().toString(36).slice(2, 8)}`, papel };
    const token = await tokenDeVisitante(v).catch(() => null);
    if (token) onToken(token, v);
    else setErro("Não foi possível obter um token de visitante.");
  };

  return (
    <main className="login">
      <h1>Tutor</h1>
      <p>Cole o seu token de acesso para conversar com o tutor.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (texto.trim()) onToken(texto.trim());
        }}
      >
        <textarea
          data-testid="login-token"
          value={texto}
          onChange={(e) => setTexto(e.target.value)}
          placeholder="eyJhbGciOi…"
          rows={4}
          aria-label="Token de acesso"
        />
        <button data-testid="login-entrar" type="submit" disabled={!texto.trim()}>
          Entrar
        </button>
      </form>
      {demo ? (
        <>
          <button
            data-testid="login-demo"
            type="button"
            className="secundario"
            onClick={() => void visitante("aluno")}
          >
            Entrar como visitante (modo demo)
          </button>
          <button
            data-testid="login-demo-professor"
            type="button"
            className="secundario"
            onClick={() => void visitante("professor")}
          >
            Entrar como professor visitante (modo demo)
          </button>
        </>
      ) : null}
      {erro ? (
        <p className="aviso" role="alert">
          {erro}
        </p>
      ) : null}
    </main>
  );
}
