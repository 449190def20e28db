//! `labelvet demo`: make (or reopen) the bundled demo project and annotate it.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result};
use labelvet::info::ProjectInfo;
use labelvet::tui::{AnnotateOptions, Summary};

use super::progress_wanted;
use crate::cli::DemoArgs;

pub fn run(args: DemoArgs) -> Result<()> {
    let dir = labelvet::demo::demo_dir()?;
    let (store, made) = labelvet::demo::open_or_create(&dir, progress_wanted())
        .with_context(|| format!("making the demo project in {}", dir.display()))?;
    if made {
        outln!(
            "made the demo project in {} from {} bundled photos",
            dir.display(),
            labelvet::demo::photo_count()
        );
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if args.info || !interactive {
        out!("{}", ProjectInfo::gather(&store)?);
        if !args.info {
            outln!(
                "(not a terminal: run `labelvet demo` in a terminal to annotate, or \
                 `labelvet show {} KEY` to print one image)",
                store.path().display()
            );
        }
        return Ok(());
    }
    let project = store.path().to_path_buf();
    drop(store);
    let summary = labelvet::tui::annotate(AnnotateOptions {
        project: project.clone(),
        annotator: args.annotator,
        images: None,
        graphics: args.graphics.parse()?,
        theme: args.theme.parse()?,
        show_sources: false,
        keys: None,
        queue: Default::default(),
        task: Default::default(),
        gold: Default::default(),
    })?;
    out!("{}", after_demo(&summary, &project));
    Ok(())
}

/// What a newcomer reads when the demo screen closes: what the session did, where it is kept,
/// and the commands that take it further (the report, a file for a second annotator, merging
/// that file back).
fn after_demo(summary: &Summary, project: &Path) -> String {
    let db = shell_word(&project.display().to_string());
    let n = summary.answers;
    let other = if summary.annotator == "bob" {
        "carol"
    } else {
        "bob"
    };
    let mut text = format!(
        "labelvet demo: {n} answer{} this session by {}, saved in {db}\n",
        if n == 1 { "" } else { "s" },
        summary.annotator
    );
    text.push_str(
        "(each answer was written to that file when you gave it; `labelvet demo` resumes where \
         you stopped)\n\nnext:\n",
    );
    let rows = [
        (
            format!("labelvet report {db}"),
            "what the answers say so far",
        ),
        (
            format!("labelvet checkout {db} --annotator {other} -o {other}.db"),
            "a file of the same questions for a second annotator",
        ),
        (
            format!("labelvet merge {db} {other}.db"),
            "bring their answers back into the project",
        ),
    ];
    let w = rows
        .iter()
        .map(|(c, _)| c.chars().count())
        .max()
        .unwrap_or(0);
    for (command, what) in rows {
        text.push_str(&format!("  {command:<w$}   # {what}\n"));
    }
    text
}

/// `word` as one shell word: as it is when it has nothing the shell would read, else quoted.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=,:@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_the_answers_the_file_and_the_next_commands() {
        let s = Summary {
            annotator: "alice".into(),
            answers: 3,
        };
        let text = after_demo(&s, Path::new("/home/a b/demo.db"));
        assert!(
            text.starts_with(
                "labelvet demo: 3 answers this session by alice, saved in '/home/a b/demo.db'\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  labelvet report '/home/a b/demo.db'"),
            "{text}"
        );
        assert!(
            text.contains("labelvet checkout '/home/a b/demo.db' --annotator bob -o bob.db"),
            "{text}"
        );
        assert!(
            text.contains("labelvet merge '/home/a b/demo.db' bob.db"),
            "{text}"
        );
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word("/x/demo.db"), "/x/demo.db");
    }
}
