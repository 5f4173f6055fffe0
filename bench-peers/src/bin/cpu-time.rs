//! Runs a command and appends its CPU time, in microseconds, to a file:
//!
//!   cpu-time OUT CMD [ARGS...]     # appends "TOTAL_US CHILD_TICKS\n" to OUT
//!
//! TOTAL_US is user + system time of CMD and of every descendant it waited
//! for (what wait4 reports: /usr/bin/time's figure, in µs instead of 10 ms).
//! CHILD_TICKS is the part of it that came from such descendants, in clock
//! ticks, read from /proc while CMD is a zombie: it tells whether a client
//! reaped its stdio server, whose time then has to be subtracted.
//! Standard streams pass through; the exit status is CMD's.

use std::fs::OpenOptions;
use std::io::Write;
use std::process::Command;

use mcpstore_bench_peers::fail;

/// Fields 16 and 17 of /proc/PID/stat (cutime, cstime), summed.
fn child_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces; fields are counted after its ')'.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let at = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    at(13) + at(14) // field 16 is index 13 after ')', which starts at field 3
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, program, rest @ ..] = args.as_slice() else { fail("usage: cpu-time OUT CMD [ARGS...]") };
    let child = Command::new(program).args(rest).spawn().unwrap_or_else(|e| fail(&format!("{program}: {e}")));
    let pid = child.id() as i32;

    // SAFETY: plain syscalls on our own child, writing into zeroed structs we own.
    let (status, ru, ticks) = unsafe {
        // Wait for the exit without reaping, so that /proc still has the zombie's figures.
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT);
        let ticks = child_ticks(pid);
        let (mut status, mut ru) = (0, std::mem::zeroed::<libc::rusage>());
        libc::wait4(pid, &mut status, 0, &mut ru);
        (status, ru, ticks)
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    let total = us(ru.ru_utime) + us(ru.ru_stime);
    // One short O_APPEND write: several servers may report into the same file.
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .unwrap_or_else(|e| fail(&format!("{out}: {e}")));
    let _ = f.write_all(format!("{total} {ticks}\n").as_bytes());
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) };
    std::process::exit(code);
}
