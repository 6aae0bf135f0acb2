//! What the tool reads from Linux about itself and about a server on the same machine:
//! the open-file limit (each socket is a descriptor), and a process's CPU time and RSS.

use anyhow::{Context, Result};

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
pub fn subir_limite_arquivos() -> Result<u64> {
    let (_, duro) = rlimit::Resource::NOFILE.get().context("getrlimit")?;
    rlimit::Resource::NOFILE
        .set(duro, duro)
        .context("setrlimit")?;
    Ok(duro)
}

/// A process's CPU time in milliseconds, in user space and in the kernel: apart, because
/// the kernel's share (sockets, fsync) is what a protocol costs whatever the server's code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cpu {
    pub usuario_ms: f64,
    pub nucleo_ms: f64,
}

impl Cpu {
    pub fn total_ms(&self) -> f64 {
        self.usuario_ms + self.nucleo_ms
    }
}

/// CPU time of `pid`, from /proc/PID/stat.
pub fn cpu(pid: u32) -> Result<Cpu> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    cpu_de_stat(&stat, clock_ticks())
}

/// Parses utime and stime (fields 14 and 15) after the `(comm)` that may hold spaces.
pub fn cpu_de_stat(stat: &str, ticks_por_s: f64) -> Result<Cpu> {
    let resto = &stat[stat.rfind(')').context("stat without comm")? + 1..];
    let campos: Vec<&str> = resto.split_whitespace().collect();
    // After the comm: field 3 (state) is index 0, so utime (14) is 11 and stime (15) is 12.
    let utime: f64 = campos.get(11).context("no utime")?.parse()?;
    let stime: f64 = campos.get(12).context("no stime")?.parse()?;
    Ok(Cpu {
        usuario_ms: utime * 1000.0 / ticks_por_s,
        nucleo_ms: stime * 1000.0 / ticks_por_s,
    })
}

/// USER_HZ: 100 on every Linux the tool targets (sysconf would need unsafe or a libc dep).
fn clock_ticks() -> f64 {
    100.0
}

/// Resident set size of `pid` in KiB, from /proc/PID/status VmRSS.
pub fn rss_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    rss_de_status(&status)
}

pub fn rss_de_status(status: &str) -> Result<u64> {
    let linha = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    linha
        .split_whitespace()
        .nth(1)
        .context("VmRSS without a value")?
        .parse()
        .context("VmRSS value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn le_cpu_e_rss() {
        let stat = "1234 (tutor (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0";
        let c = cpu_de_stat(stat, 100.0).expect("parses");
        assert_eq!(
            (c.usuario_ms, c.nucleo_ms, c.total_ms()),
            (2500.0, 500.0, 3000.0)
        );
        assert_eq!(
            rss_de_status("Name:\ttutor\nVmRSS:\t  20480 kB\nThreads: 4\n").expect("parses"),
            20480
        );
        assert!(rss_de_status("Name: x\n").is_err());
        let eu = std::process::id();
        assert!(rss_kb(eu).expect("own RSS") > 0);
        assert!(cpu(eu).is_ok());
    }
}
