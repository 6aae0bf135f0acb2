//! The human table on stdout; the JSON line that follows it is for machines.

use serde_json::Value;

use crate::medidas::{Hist, Resultado};

fn linha_hist(nome: &str, h: &Hist) {
    let r = h.resumo();
    if r.is_null() {
        println!("  {nome:<22} {:>8}", "-");
        return;
    }
    println!(
        "  {nome:<22} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        r["n"],
        r["p50"].as_f64().unwrap_or_default(),
        r["p90"].as_f64().unwrap_or_default(),
        r["p99"].as_f64().unwrap_or_default(),
        r["max"].as_f64().unwrap_or_default(),
    );
}

/// Prints the run's table: counts, latency percentiles, server figures, verdict.
pub fn tabela(saida: &Value, r: &Resultado) {
    println!();
    println!(
        "tutor-carga {} ({})",
        saida["scenario"].as_str().unwrap_or("?"),
        saida["label"].as_str().unwrap_or("")
    );
    println!(
        "  connected {}   connect failures {}   disconnects {}",
        r.conectados,
        r.falhas_conexao_total(),
        r.quedas
    );
    for (k, v) in &r.falhas_conexao {
        println!("    connect failure {k}: {v}");
    }
    println!(
        "  sent {}   answered+verified {}   mismatches {}   timeouts {}   missing or wrong {}",
        r.enviadas,
        r.respondidas,
        r.divergentes,
        r.timeouts,
        r.perdas()
    );
    for (k, v) in &r.erros {
        println!("    error {k}: {v}");
    }
    if r.abas_esperadas > 0 {
        println!(
            "  tabs: answers expected {}   received {}   mismatches {}",
            r.abas_esperadas, r.abas_recebidas, r.abas_divergentes
        );
    }
    println!(
        "  duration {:.2} s   {:.1} answers/s",
        r.duracao_s,
        r.por_segundo()
    );
    println!(
        "  {:<22} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "latency (ms)", "n", "p50", "p90", "p99", "max"
    );
    linha_hist("connect", &r.conexao);
    linha_hist("ack", &r.ack);
    linha_hist("first piece", &r.primeiro);
    linha_hist("whole answer", &r.resposta);
    let s = &saida["server"];
    if let Some(pid) = s.get("pid") {
        println!(
            "  server pid {pid}: RSS {} → {} KiB   CPU {} ms   {} ms/answer (user {}, kernel {})",
            s["rss_kb_before"],
            s["rss_kb_after"],
            s["cpu_ms"],
            s["cpu_ms_per_answer"],
            s["cpu_user_ms_per_answer"],
            s["cpu_kernel_ms_per_answer"]
        );
    }
    if let Some(Value::Object(d)) = s.get("metrics_delta") {
        println!("  /metrics deltas (histogram buckets in the JSON only):");
        for (k, v) in d.iter().filter(|(k, _)| !k.contains("_bucket{")) {
            println!("    {k} {v}");
        }
    } else if let Some(n) = s.get("metrics_note") {
        println!("  /metrics: {n}");
    }
    if let Value::Object(e) = &saida["scenario_report"] {
        for (k, v) in e {
            println!("  {k}: {v}");
        }
    }
    for a in &r.amostras {
        println!("  sample: {a}");
    }
    println!(
        "  verdict: {}",
        if saida["passed"] == true {
            "PASS"
        } else {
            "FAIL"
        }
    );
    println!();
}
