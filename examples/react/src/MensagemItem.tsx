// One message on screen: who wrote it, its text, and how the answer ended when it did not
// complete. The student's text is shown as typed; the tutor's is rendered as Markdown with
// math.
import type { Mensagem } from "./protocol";
import { TextoDoTutor } from "./TextoDoTutor";

interface Props {
  m: Mensagem;
  /** The readable sentence of this answer's `erro_resposta`, when this tab saw it. */
  erro?: string;
  /** How the student's messages are signed: "Você" for the student, their name for a
   * teacher reading along. */
  nomeAluno?: string;
}

export function MensagemItem({ m, erro, nomeAluno = "Você" }: Props) {
  return (
    <article
      data-testid="mensagem"
      data-papel={m.papel}
      data-status={m.status}
      className={`mensagem ${m.papel} ${m.status}`}
    >
      <span className="autor">{m.papel === "aluno" ? nomeAluno : "Tutor"}</span>
      {m.papel === "tutor" ? <TextoDoTutor texto={m.conteudo} /> : <p className="texto">{m.conteudo}</p>}
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
