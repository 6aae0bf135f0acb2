// Log in by pasting a token; in demo mode the server hands out guest tokens (loopback only).
import { useEffect, useState } from "react";

export function Login({ onToken }: { onToken: (t: string) => void }) {
  const [texto, setTexto] = useState("");
  const [demo, setDemo] = useState(false);
  const [erro, setErro] = useState<string | null>(null);

  useEffect(() => {
    // The endpoint exists only in demo mode; anywhere else it answers 404.
    fetch("/dev/token?sub=sonda", { method: "GET" })
      .then((r) => setDemo(r.ok))
      .catch(() => setDemo(false));
  }, []);

  const visitante = async () => {
    const sub = `visitante-${Math.random().toString(36).slice(2, 8)}`;
    try {
      const r = await fetch(`/dev/token?sub=${encodeURIComponent(sub)}`);
      if (!r.ok) throw new Error(String(r.status));
      const { token } = (await r.json()) as { token: string };
      onToken(token);
    } catch {
      setErro("Não foi possível obter um token de visitante.");
    }
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
        <button data-testid="login-demo" type="button" className="secundario" onClick={visitante}>
          Entrar como visitante (modo demo)
        </button>
      ) : null}
      {erro ? <p role="alert">{erro}</p> : null}
    </main>
  );
}
