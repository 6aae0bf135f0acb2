// The notice above the box when something the user asked for was refused or timed out; for
// the daily budget of the tutor, also the moment it renews.
import type { Erro } from "./protocol";

export interface Aviso {
  texto: string;
  /** When the daily budget renews (only for that refusal). */
  renovaEm?: Date;
}

/** The notice for a refused request: the server's sentence, and for the daily budget when it
 * renews, from `tentar_em_ms`. */
export function avisoDoErro(erro: Erro, agora = Date.now()): Aviso {
  const orcamento = erro.codigo === "limite_excedido" && erro.limite === "tokens_por_dia";
  if (orcamento && typeof erro.tentar_em_ms === "number") {
    return { texto: erro.mensagem, renovaEm: new Date(agora + erro.tentar_em_ms) };
  }
  return { texto: erro.mensagem };
}

/** While the day's budget is spent, the moment sending opens again; `null` when nothing
 * holds the student back (another refusal, or a renewal already past). */
export function bloqueadoAte(aviso: Aviso | null, agora = Date.now()): Date | null {
  const r = aviso?.renovaEm;
  return r && r.getTime() > agora ? r : null;
}

const HORA = new Intl.DateTimeFormat("pt-BR", { hour: "2-digit", minute: "2-digit" });
const DIA = new Intl.DateTimeFormat("pt-BR", { day: "numeric", month: "long" });

/** "hoje às 21:00", "amanhã às 00:00", "em 5 de março às 00:00". */
export function quando(d: Date, agora = new Date()): string {
  const dias = Math.round((meiaNoite(d) - meiaNoite(agora)) / 86_400_000);
  const hora = HORA.format(d);
  if (dias === 0) return `hoje às ${hora}`;
  if (dias === 1) return `amanhã às ${hora}`;
  return `em ${DIA.format(d)} às ${hora}`;
}

function meiaNoite(d: Date): number {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

export function AvisoEnvio({ aviso }: { aviso: Aviso }) {
  if (!aviso.renovaEm) {
    return (
      <p className="aviso" role="alert" data-testid="aviso">
        {aviso.texto}
      </p>
    );
  }
  return (
    <div className="aviso aviso-limite" role="alert" data-testid="aviso" data-limite="tokens_por_dia">
      <strong>Limite diário atingido</strong>
      <p>{aviso.texto}</p>
      <p data-testid="aviso-renovacao">
        Você poderá enviar de novo {quando(aviso.renovaEm)}. Sua mensagem continua na caixa abaixo.
      </p>
    </div>
  );
}
