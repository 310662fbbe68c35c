//! A child process for end-to-end tests: its stdout read line by line on a thread (so the child
//! never blocks on a full pipe), and killed when the test ends, whether it passes or panics.

#![allow(dead_code)]

pub mod indexer_run;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running child whose stdout lines are collected; killed (SIGKILL) and reaped on drop.
pub struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Arc<Mutex<Vec<String>>>,
    name: String,
}

impl Running {
    /// Spawns `command` with stdout piped (stdin closed, stderr inherited unless set).
    pub fn spawn(name: &str, mut command: Command) -> Running {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let all = seen.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                all.lock().expect("lines").push(line.clone());
                // The receiver may be gone; keep draining so the child never blocks.
                let _ = tx.send(line);
            }
        });
        Running {
            child,
            lines,
            seen,
            name: name.to_string(),
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The first line from now on that satisfies `wanted`, within `timeout`.
    pub fn wait_for_line(&self, timeout: Duration, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{} printed no expected line within {timeout:?}; its output:\n{}",
                    self.name,
                    self.output()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "{} closed its output without the expected line; its output:\n{}",
                    self.name,
                    self.output()
                ),
            }
        }
    }

    /// The first line printed so far, or from now on within `timeout`, that satisfies `wanted`:
    /// for a line that may come before or after the one last waited for.
    pub fn find_line(&self, timeout: Duration, wanted: impl Fn(&str) -> bool) -> String {
        let seen = self
            .seen
            .lock()
            .expect("lines")
            .iter()
            .find(|l| wanted(l))
            .cloned();
        seen.unwrap_or_else(|| self.wait_for_line(timeout, wanted))
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        self.seen.lock().expect("lines").join("\n")
    }

    /// Sends SIGTERM and waits (at most `timeout`) for the exit; true if it exited with success.
    pub fn terminate(&mut self, timeout: Duration) -> bool {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "cannot send SIGTERM to {}", self.name);
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Running {
    /// Waits (at most `timeout`) for the child to exit on its own; its status, or `None`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port free on 127.0.0.1 right now, for a child that takes its port as a flag.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `key=value` of a tracing log line (the value up to the next space, without the quotes
/// tracing puts around strings).
pub fn log_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim_matches('"'))
}
