//! Shell completion: `minik8s completion bash|zsh|fish` prints a script for the shell (clap's
//! own generator), and the hidden `minik8s __complete ARGS… WORD` answers kubectl's plugin
//! completion protocol, so that `kubectl minik8s <TAB>` completes too. kubectl runs the
//! `kubectl_complete-minik8s` executable on PATH (`plugins/kubectl_complete-minik8s` here)
//! with the words typed after `minik8s`, the last being the one to complete, and reads cobra's
//! answer: one candidate per line, a tab before its description, then `:<directive>`.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

/// cobra's `ShellCompDirectiveNoFileComp`: offer no file names when nothing matches.
const NO_FILE_COMPLETION: u8 = 4;

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell to print the completion script for.
    pub shell: Shell,
}

#[derive(Args, Debug)]
pub struct CompleteArgs {
    /// The words typed after `minik8s`; the last is the one being completed (may be empty).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}

pub fn run(args: CompletionArgs) -> super::Result {
    let mut script = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut super::Cli::command(),
        "minik8s",
        &mut script,
    );
    write_out(&script)
}

pub fn complete(args: CompleteArgs) -> super::Result {
    write_out(cobra_answer(&args.words).as_bytes())
}

/// Writes to standard output; a reader that stopped reading (`| head`) is no error.
fn write_out(bytes: &[u8]) -> super::Result {
    use std::io::Write;
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => Ok(written?),
    }
}

/// The candidates for the last of `words`: the subcommands of the command the earlier words
/// name, or its long flags when the word starts with `-`; then cobra's directive.
pub fn cobra_answer(words: &[String]) -> String {
    let root = super::Cli::command();
    let (typed, partial) = match words.split_last() {
        Some((last, before)) => (before, last.as_str()),
        None => (&[][..], ""),
    };
    let mut command = &root;
    for word in typed.iter().filter(|w| !w.starts_with('-')) {
        match command.find_subcommand(word) {
            Some(sub) => command = sub,
            None => break,
        }
    }
    let mut answer = String::new();
    if partial.starts_with('-') {
        for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
            let Some(long) = arg.get_long() else { continue };
            let flag = format!("--{long}");
            if flag.starts_with(partial) {
                let help = arg
                    .get_help()
                    .map(|h| first_line(&h.to_string()))
                    .unwrap_or_default();
                answer.push_str(&candidate(&flag, &help));
            }
        }
    } else {
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            if sub.get_name().starts_with(partial) {
                let about = sub
                    .get_about()
                    .map(|a| first_line(&a.to_string()))
                    .unwrap_or_default();
                answer.push_str(&candidate(sub.get_name(), &about));
            }
        }
    }
    answer.push_str(&format!(":{NO_FILE_COMPLETION}\n"));
    answer
}

fn candidate(word: &str, description: &str) -> String {
    if description.is_empty() {
        format!("{word}\n")
    } else {
        format!("{word}\t{description}\n")
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(words: &[&str]) -> Vec<String> {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        cobra_answer(&words)
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn subcommands_and_flags_are_offered_as_cobra_lists_them() {
        let top = answer(&[""]);
        for expected in ["rollout", "set", "explain", "compare", "completion", ":4"] {
            assert!(top.contains(&expected.to_owned()), "{expected} in {top:?}");
        }
        assert!(
            !top.iter().any(|w| w == "__complete"),
            "the hidden command is not offered"
        );
        assert_eq!(answer(&["ro"]), ["rollout", ":4"]);
        let rollout = answer(&["rollout", ""]);
        for expected in ["status", "history", "undo", "pause", "resume", "restart"] {
            assert!(
                rollout.contains(&expected.to_owned()),
                "{expected} in {rollout:?}"
            );
        }
        assert_eq!(answer(&["rollout", "und"]), ["undo", ":4"]);
        assert!(answer(&["rollout", "status", "--"]).contains(&"--namespace".to_owned()));
        assert_eq!(answer(&["nothing-like-it", "x"]), [":4"]);
        assert_eq!(answer(&[]), answer(&[""]));
    }

    #[test]
    fn descriptions_follow_a_tab() {
        let text = cobra_answer(&["rollout".into(), "und".into()]);
        let (word, description) = text.lines().next().unwrap().split_once('\t').unwrap();
        assert_eq!(word, "undo");
        assert!(!description.is_empty());
    }

    #[test]
    fn every_shell_gets_a_script() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut script = Vec::new();
            clap_complete::generate(
                shell,
                &mut super::super::Cli::command(),
                "minik8s",
                &mut script,
            );
            let script = String::from_utf8(script).unwrap();
            assert!(script.contains("rollout"), "{shell}: {script}");
        }
    }
}
