//! Progress bars (indicatif) on stderr: drawn only when stderr is a
//! terminal and the output is not meant for a program (`--json`).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar for `total` items, or a counter with the elapsed time when the
/// total is unknown (a run for a duration). Hidden unless `visible` and
/// stderr is a terminal.
pub fn bar(total: Option<usize>, visible: bool) -> ProgressBar {
    let target = if visible && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let (bar, template) = match total {
        Some(n) => {
            (ProgressBar::with_draw_target(Some(n as u64), target), "[{bar:30}] {pos}/{len} {per_sec}")
        }
        None => (ProgressBar::with_draw_target(None, target), "{spinner} {pos} done, {elapsed} {per_sec}"),
    };
    // The templates are constants; a bad one would only lose the styling.
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("#>-"));
    }
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_bars_still_count() {
        let b = bar(Some(10), false);
        assert!(b.is_hidden());
        b.set_position(4);
        b.inc(1);
        assert_eq!(b.position(), 5);
        assert_eq!(b.length(), Some(10));
        b.finish_and_clear();
        let spinner = bar(None, false);
        assert_eq!(spinner.length(), None);
    }
}
