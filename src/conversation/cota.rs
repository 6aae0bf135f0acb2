//! The daily budget of model tokens per student (`TUTOR_TOKENS_POR_DIA`). What an answer cost
//! is added to the student's day in the answer's final write (`storage::Uso`); a send is
//! refused, before it is stored or reaches the model, once the day's total reached the budget.
//! The database holds the totals, so the budget holds across restarts and processes.
use chrono::{DateTime, Duration as Delta, FixedOffset, NaiveTime, Utc};

use crate::{error::Erro, storage::Uso};

/// The budget and the time zone whose calendar day it renews with.
#[derive(Debug, Clone, Copy)]
pub struct Cota {
    /// Tokens per student per day; 0 is no budget (use is still counted, for the class view).
    pub tokens_por_dia: u64,
    pub fuso: FixedOffset,
}

/// Characters per token in the estimate used when the upstream reports no usage: the common
/// rule of thumb for English and Portuguese text with the usual tokenizers.
const CARACTERES_POR_TOKEN: u64 = 4;

impl Cota {
    /// The calendar day of `agora` in the server's time zone, `AAAA-MM-DD`.
    pub fn dia(&self, agora: DateTime<Utc>) -> String {
        agora
            .with_timezone(&self.fuso)
            .format("%Y-%m-%d")
            .to_string()
    }

    /// Milliseconds from `agora` to the next midnight in the server's time zone.
    pub fn renova_em_ms(&self, agora: DateTime<Utc>) -> u64 {
        let local = agora.with_timezone(&self.fuso);
        let amanha = local.date_naive() + Delta::days(1);
        let meia_noite = amanha
            .and_time(NaiveTime::MIN)
            .and_local_timezone(self.fuso)
            .single()
            .expect("a fixed offset has exactly one midnight");
        (meia_noite - local).num_milliseconds().max(0) as u64
    }

    /// The answer's cost to add to its student's day: what the upstream reported, or the
    /// estimate from the characters of the prompt sent and the text received.
    pub fn uso(
        &self,
        usuario_id: &str,
        agora: DateTime<Utc>,
        informado: Option<u64>,
        caracteres: u64,
    ) -> Uso {
        let tokens = informado.unwrap_or_else(|| caracteres.div_ceil(CARACTERES_POR_TOKEN));
        Uso {
            usuario_id: usuario_id.to_owned(),
            dia: self.dia(agora),
            tokens: i64::try_from(tokens).unwrap_or(i64::MAX),
        }
    }

    /// Refuses a send when `usado` tokens today reached the budget.
    pub fn conferir(&self, usado: i64, agora: DateTime<Utc>) -> Result<(), Erro> {
        if self.tokens_por_dia == 0
            || usado < i64::try_from(self.tokens_por_dia).unwrap_or(i64::MAX)
        {
            return Ok(());
        }
        let tentar_em_ms = self.renova_em_ms(agora);
        Err(Erro::CotaEsgotada {
            tentar_em_ms,
            mensagem: format!(
                "Você usou todo o seu limite diário do tutor. Ele renova em {}.",
                duracao(tentar_em_ms)
            ),
        })
    }
}

/// "5 h 12 min", "12 min", "menos de 1 min".
fn duracao(ms: u64) -> String {
    let minutos = ms.div_ceil(60_000);
    match (minutos / 60, minutos % 60) {
        (0, 0) => "menos de 1 min".into(),
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// Parses `TUTOR_FUSO_HORARIO`: `±HH:MM`, or `Z`/`UTC`.
pub fn ler_fuso(s: &str) -> Result<FixedOffset, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return Ok(FixedOffset::east_opt(0).expect("zero is an offset"));
    }
    let erro = || format!("time zone {s:?} is not ±HH:MM (e.g. -03:00)");
    let (sinal, resto) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(erro()),
    };
    let (h, m) = resto.split_once(':').ok_or_else(erro)?;
    let (h, m): (i32, i32) = (
        h.parse().map_err(|_| erro())?,
        m.parse().map_err(|_| erro())?,
    );
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return Err(erro());
    }
    FixedOffset::east_opt(sinal * (h * 3600 + m * 60)).ok_or_else(erro)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn cota(tokens_por_dia: u64, fuso: &str) -> Cota {
        Cota {
            tokens_por_dia,
            fuso: ler_fuso(fuso).expect("valid"),
        }
    }

    #[test]
    fn the_day_and_its_renewal_follow_the_schools_time_zone() {
        // 02:30 UTC is still the evening before in Brasília.
        let agora = Utc
            .with_ymd_and_hms(2026, 12, 2, 2, 30, 0)
            .single()
            .expect("a time");
        let brasilia = cota(100, "-03:00");
        assert_eq!(brasilia.dia(agora), "2026-12-01");
        assert_eq!(brasilia.renova_em_ms(agora), 30 * 60 * 1000);
        let utc = cota(100, "UTC");
        assert_eq!(utc.dia(agora), "2026-12-02");
        assert_eq!(utc.renova_em_ms(agora), (21 * 60 + 30) * 60 * 1000);
    }

    #[test]
    fn a_send_is_refused_once_the_day_reached_the_budget_and_never_without_one() {
        let agora = Utc
            .with_ymd_and_hms(2026, 12, 2, 18, 48, 0)
            .single()
            .expect("a time");
        let c = cota(1000, "+00:00");
        assert!(c.conferir(999, agora).is_ok());
        match c.conferir(1000, agora) {
            Err(Erro::CotaEsgotada {
                tentar_em_ms,
                mensagem,
            }) => {
                assert_eq!(tentar_em_ms, (5 * 60 + 12) * 60 * 1000);
                assert!(mensagem.contains("5 h 12 min"), "{mensagem}");
            }
            outro => panic!("{outro:?}"),
        }
        assert!(cota(0, "+00:00").conferir(i64::MAX, agora).is_ok());
    }

    #[test]
    fn reported_usage_wins_over_the_estimate() {
        let agora = Utc::now();
        let c = cota(0, "Z");
        assert_eq!(c.uso("ana", agora, Some(57), 4000).tokens, 57);
        assert_eq!(c.uso("ana", agora, None, 401).tokens, 101);
    }

    #[test]
    fn a_time_zone_is_an_offset_or_nothing() {
        assert_eq!(
            ler_fuso("-03:00").expect("valid").local_minus_utc(),
            -3 * 3600
        );
        assert_eq!(
            ler_fuso("+05:30").expect("valid").local_minus_utc(),
            5 * 3600 + 1800
        );
        for ruim in ["", "03:00", "America/Sao_Paulo", "+3", "+25:00", "-03:75"] {
            assert!(ler_fuso(ruim).is_err(), "{ruim}");
        }
    }
}
