//! The function servers the benchmarks start as processes of their own:
//! binaries of this crate found next to the running one, each printing
//! the port it listens on as its first line.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::Context as _;

/// A server process, killed when dropped.
///
/// ```no_run
/// # fn main() -> anyhow::Result<()> {
/// use statefun_benches::process::{ServerProcess, sibling};
///
/// let mut command = std::process::Command::new(sibling("latency-server")?);
/// command.arg("0").arg("20");
/// let server = ServerProcess::start(command)?;
/// println!("listening on {}", server.port());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    port: u16,
}

impl ServerProcess {
    /// Starts `command` and reads the port it prints.
    ///
    /// # Errors
    ///
    /// When it cannot start, or its first line is not a port.
    pub fn start(mut command: Command) -> anyhow::Result<Self> {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let port = line
            .trim()
            .parse()
            .with_context(|| format!("{command:?} printed {line:?} instead of its port"))?;
        Ok(Self { child, port })
    }

    /// The port it listens on (on 127.0.0.1).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its process id.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary `name` in the directory of the running one (where cargo puts
/// all of this crate's binaries).
///
/// # Errors
///
/// When the running binary's path is unknown.
pub fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.parent().context("the binary's directory")?.join(name))
}
