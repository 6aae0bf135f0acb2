//! `plot`: result JSON files → one SVG line chart, written by hand (no plotting crate) so
//! BENCHMARKS.md images can be regenerated anywhere. Each y path is one series, its points
//! the (x, y) of every result line that has both values, sorted by x.

use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cli::PlotArgs;

/// Follows a dotted path (`result.answer_ms.p99`); array indices are numbers.
pub fn valor(v: &Value, caminho: &str) -> Option<f64> {
    let mut atual = v;
    for parte in caminho.split('.') {
        atual = match atual {
            Value::Array(a) => a.get(parte.parse::<usize>().ok()?)?,
            _ => atual.get(parte)?,
        };
    }
    atual.as_f64()
}

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A "nice" step (1, 2 or 5 × 10^k) for about `n` ticks over `amplitude`.
fn passo(amplitude: f64, n: f64) -> f64 {
    if amplitude <= 0.0 || !amplitude.is_finite() {
        return 1.0;
    }
    let bruto = amplitude / n;
    let base = 10f64.powf(bruto.log10().floor());
    let m = bruto / base;
    base * if m < 1.5 {
        1.0
    } else if m < 3.5 {
        2.0
    } else if m < 7.5 {
        5.0
    } else {
        10.0
    }
}

fn numero(v: f64) -> String {
    if v.abs() >= 1000.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    }
}

pub struct Serie {
    pub nome: String,
    pub pontos: Vec<(f64, f64)>,
}

const CORES: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];

/// The chart as SVG text.
pub fn svg(titulo: &str, rotulo_x: &str, rotulo_y: &str, series: &[Serie]) -> String {
    let (w, h) = (720.0, 420.0);
    let (esq, dir, topo, base) = (70.0, 170.0, 40.0, 50.0);
    let todos: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.pontos.iter().copied())
        .collect();
    let (mut x0, mut x1) = todos
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let y1 = todos.iter().fold(0.0f64, |a, p| a.max(p.1));
    if todos.is_empty() {
        (x0, x1) = (0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let py = passo(y1.max(1e-9), 5.0);
    let y1 = (y1 / py).ceil().max(1.0) * py;
    let px = passo(x1 - x0, 6.0);
    let (aw, ah) = (w - esq - dir, h - topo - base);
    let sx = |x: f64| esq + (x - x0) / (x1 - x0) * aw;
    let sy = |y: f64| topo + ah - y / y1 * ah;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>"#,
        esq + aw / 2.0,
        esc(titulo)
    );
    let mut y = 0.0;
    while y <= y1 + py / 2.0 {
        let _ = writeln!(
            s,
            r##"<line x1="{esq}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#ddd"/><text x="{2}" y="{3:.1}" text-anchor="end">{4}</text>"##,
            sy(y),
            esq + aw,
            esq - 6.0,
            sy(y) + 4.0,
            numero(y)
        );
        y += py;
    }
    let mut x = (x0 / px).ceil() * px;
    while x <= x1 + px / 1e6 {
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" y1="{topo}" x2="{0:.1}" y2="{1:.1}" stroke="#eee"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{3}</text>"##,
            sx(x),
            topo + ah,
            topo + ah + 18.0,
            numero(x)
        );
        x += px;
    }
    let _ = writeln!(
        s,
        r#"<rect x="{esq}" y="{topo}" width="{aw}" height="{ah}" fill="none" stroke="black"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        esq + aw / 2.0,
        h - 12.0,
        esc(rotulo_x)
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{0}" text-anchor="middle" transform="rotate(-90 16 {0})">{1}</text>"#,
        topo + ah / 2.0,
        esc(rotulo_y)
    );
    for (i, serie) in series.iter().enumerate() {
        let cor = CORES[i % CORES.len()];
        let pts: Vec<String> = serie
            .pontos
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{cor}" stroke-width="2" points="{}"/>"#,
            pts.join(" ")
        );
        for &(x, y) in &serie.pontos {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{cor}"/>"#,
                sx(x),
                sy(y)
            );
        }
        let ly = topo + 10.0 + i as f64 * 20.0;
        let _ = writeln!(
            s,
            r#"<line x1="{0}" y1="{ly}" x2="{1}" y2="{ly}" stroke="{cor}" stroke-width="2"/><text x="{2}" y="{3}">{4}</text>"#,
            esq + aw + 10.0,
            esq + aw + 30.0,
            esq + aw + 36.0,
            ly + 4.0,
            esc(&serie.nome)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Reads every JSON line of every file.
fn ler(args: &PlotArgs) -> Result<Vec<Value>> {
    let mut v = Vec::new();
    for a in &args.arquivos {
        let texto =
            std::fs::read_to_string(a).with_context(|| format!("reading {}", a.display()))?;
        for l in texto.lines().filter(|l| l.trim_start().starts_with('{')) {
            v.push(serde_json::from_str(l).with_context(|| format!("JSON in {}", a.display()))?);
        }
    }
    Ok(v)
}

pub fn desenhar(args: &PlotArgs) -> Result<()> {
    let resultados = ler(args)?;
    let series: Vec<Serie> = args
        .y
        .iter()
        .map(|y| {
            let mut pontos: Vec<(f64, f64)> = resultados
                .iter()
                .filter_map(|r| Some((valor(r, &args.x)?, valor(r, y)?)))
                .collect();
            pontos.sort_by(|a, b| a.0.total_cmp(&b.0));
            Serie {
                nome: y.clone(),
                pontos,
            }
        })
        .collect();
    if series.iter().all(|s| s.pontos.is_empty()) {
        bail!("no result has both {} and any of {:?}", args.x, args.y);
    }
    let texto = svg(
        &args.titulo,
        args.rotulo_x.as_deref().unwrap_or(&args.x),
        args.rotulo_y.as_deref().unwrap_or("value"),
        &series,
    );
    std::fs::write(&args.saida, texto)
        .with_context(|| format!("writing {}", args.saida.display()))?;
    eprintln!("wrote {}", args.saida.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every element opened is closed, in order (a small XML well-formedness check).
    fn bem_formado(svg: &str) -> bool {
        let mut pilha: Vec<String> = Vec::new();
        let mut resto = svg;
        while let Some(i) = resto.find('<') {
            let Some(j) = resto[i..].find('>') else {
                return false;
            };
            let tag = &resto[i + 1..i + j];
            resto = &resto[i + j + 1..];
            if let Some(nome) = tag.strip_prefix('/') {
                if pilha.pop().as_deref() != Some(nome.trim()) {
                    return false;
                }
            } else if !tag.ends_with('/') {
                pilha.push(tag.split_whitespace().next().unwrap_or_default().to_owned());
            }
        }
        pilha.is_empty()
    }

    #[test]
    fn svg_tem_uma_linha_por_serie_e_e_bem_formado() {
        let series = [
            Serie {
                nome: "p50 <ms>".into(),
                pontos: vec![(10.0, 5.0), (20.0, 8.0), (40.0, 30.0)],
            },
            Serie {
                nome: "p99".into(),
                pontos: vec![(10.0, 9.0), (20.0, 20.0), (40.0, 120.0)],
            },
        ];
        let s = svg("latência & taxa", "msg/s", "ms", &series);
        assert!(s.starts_with("<svg"));
        assert_eq!(s.matches("<polyline").count(), 2);
        assert_eq!(s.matches("<circle").count(), 6);
        assert!(s.contains("p50 &lt;ms&gt;") && s.contains("latência &amp; taxa"));
        assert!(bem_formado(&s), "{s}");
        assert!(!bem_formado("<svg><g></svg>"));
        let vazio = svg("t", "x", "y", &[]);
        assert!(bem_formado(&vazio));
    }

    #[test]
    fn caminhos_pontuados() {
        let v = json!({"result": {"answer_ms": {"p99": 12.5}}, "steps": [{"rss_kb": 7}]});
        assert_eq!(valor(&v, "result.answer_ms.p99"), Some(12.5));
        assert_eq!(valor(&v, "steps.0.rss_kb"), Some(7.0));
        assert_eq!(valor(&v, "result.nada"), None);
        assert_eq!(passo(97.0, 5.0), 20.0);
        assert_eq!(passo(0.0, 5.0), 1.0);
    }
}
