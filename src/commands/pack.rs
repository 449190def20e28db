//! `labelvet pack`: the small file an annotator sends back instead of their whole file.

use anyhow::Result;

use labelvet::store::Store;
use labelvet::store::pack::pack;

use crate::cli::PackArgs;

pub fn run(args: PackArgs) -> Result<()> {
    let store = Store::open(&args.file)?;
    let r = pack(&store, &args.output, args.force)?;
    let events: Vec<String> = r
        .events
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(plural, n)| format!("{n} {plural}"))
        .collect();
    let whose = match &r.annotator {
        Some(a) => format!(" of {}", labelvet::text::display(a)),
        None => String::new(),
    };
    outln!(
        "packed {} into {}: {}{whose}; {} and {} they name; {}",
        args.file.display(),
        r.path.display(),
        events.join(", "),
        labelvet::words::count(r.images, "image"),
        labelvet::words::count(r.classes, "class"),
        size(r.bytes)
    );
    outln!(
        "next: send {} back; it merges like the full file: `labelvet merge PROJECT {}`",
        r.path.display(),
        r.path.display()
    );
    Ok(())
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MB", bytes as f64 / (1 << 20) as f64)
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}
