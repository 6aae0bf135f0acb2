// How long ago, as the class view says it: "agora", "há 5 minutos", "ontem".

const RELATIVO = new Intl.RelativeTimeFormat("pt-BR", { numeric: "auto" });
const DATA_HORA = new Intl.DateTimeFormat("pt-BR", { dateStyle: "short", timeStyle: "short" });

const UNIDADES: [Intl.RelativeTimeFormatUnit, number][] = [
  ["day", 86_400],
  ["hour", 3_600],
  ["minute", 60],
];

/** `iso` relative to `agora`, in Portuguese; under a minute is "agora". */
export function haQuanto(iso: string, agora: number): string {
  const segundos = Math.round((Date.parse(iso) - agora) / 1000);
  for (const [unidade, tamanho] of UNIDADES) {
    if (Math.abs(segundos) >= tamanho) return RELATIVO.format(Math.trunc(segundos / tamanho), unidade);
  }
  return "agora";
}

/** The full date and time, for a tooltip. */
export const dataHora = (iso: string) => DATA_HORA.format(new Date(iso));
