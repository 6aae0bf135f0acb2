// One message on screen: who wrote it, its text, and how the answer ended when it did not
// complete.
import type { Mensagem } from "./protocol";

/** `erro` is the readable sentence of this answer's `erro_resposta`, when this tab saw it. */
export function MensagemItem({ m, erro }: { m: Mensagem; erro?: string }) {
  return (
    <article
      data-testid="mensagem"
      data-papel={m.papel}
      data-status={m.status}
      className={`mensagem ${m.papel} ${m.status}`}
    >
      <span className="autor">{m.papel === "aluno" ? "Você" : "Tutor"}</span>
      <p className="texto">{m.conteudo}</p>
      {m.status === "gerando" ? <span className="digitando">escrevendo…</span> : null}
      {m.status === "cancelada" ? <span className="nota">Resposta interrompida.</span> : null}
      {m.status === "erro" ? (
        <span className="nota erro" data-testid="erro-resposta" role="alert">
          {erro ?? "A resposta não pôde ser concluída."}
        </span>
      ) : null}
    </article>
  );
}
