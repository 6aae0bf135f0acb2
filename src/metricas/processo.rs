//! The process's resident memory and CPU time, read from `/proc/self` at each scrape (Linux
//! only: elsewhere, or when `/proc` cannot be read, the two series are left out). They
//! describe the whole process, so two servers in one process report the same values.
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{counter::ConstCounter, gauge::ConstGauge},
};

/// `/proc/self/stat` counts CPU time in clock ticks of `USER_HZ`, which Linux fixes at 100
/// for user space on every architecture (reading `sysconf(_SC_CLK_TCK)` would need `unsafe`).
const TICKS_POR_SEGUNDO: f64 = 100.0;

#[derive(Debug)]
pub struct Processo;

impl Collector for Processo {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(bytes) = memoria_residente() {
            let g = ConstGauge::new(bytes);
            let e = encoder.encode_descriptor(
                "process_resident_memory_bytes",
                "Resident memory of the process, in bytes",
                None,
                g.metric_type(),
            )?;
            g.encode(e)?;
        }
        if let Some(segundos) = cpu_segundos() {
            let c = ConstCounter::new(segundos);
            let e = encoder.encode_descriptor(
                "process_cpu_seconds",
                "CPU time the process has used, user and system, in seconds",
                None,
                c.metric_type(),
            )?;
            c.encode(e)?;
        }
        Ok(())
    }
}

/// `VmRSS` of `/proc/self/status`, in kB there (exact, whatever the page size).
fn memoria_residente() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let linha = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kb: i64 = linha.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kb.checked_mul(1024)
}

fn cpu_segundos() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    ler_cpu(&stat)
}

/// `utime` + `stime` (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name
/// (field 2) is in parentheses and may hold spaces or parentheses: count after the last `)`.
fn ler_cpu(stat: &str) -> Option<f64> {
    let resto = &stat[stat.rfind(')')? + 1..];
    let campos: Vec<&str> = resto.split_whitespace().collect();
    // `resto` starts at field 3.
    let utime: u64 = campos.get(14 - 3)?.parse().ok()?;
    let stime: u64 = campos.get(15 - 3)?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_POR_SEGUNDO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        let linha = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0";
        assert_eq!(ler_cpu(linha), Some(3.0));
        assert_eq!(ler_cpu("lixo"), None);
    }
}
