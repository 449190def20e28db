//! What the annotator feels: the time from a key press to the next frame, and the time to get a
//! photo from disk onto the screen.
//!
//! `key_to_frame`: answer `y` on a 200x60 test backend with half-block images, the next images
//! already loaded by the worker (as they are in use: it runs ahead while the annotator reads).
//! The time covers the answer's commit to SQLite, the move to the next question (and the next
//! image's candidates), and drawing the whole frame. Target: median under 2 ms.
//!
//! `decode_resize_encode`: a JPEG read from disk, decoded, resized with fast_image_resize and
//! encoded for the terminal, with nothing cached. Target: median under 10 ms for ~500x375.
//!
//! Run: `cargo bench --bench annotate -- --warm-up-time 1 --measurement-time 3`

#[path = "../tests/it/annotate_support.rs"]
mod annotate_support;

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use labelvet::annotate::{Session, SessionOptions};
use labelvet::tui::{App, AppOptions, Encoder, Graphics, Keymap};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

fn open_app(p: &annotate_support::Project, annotator: &str) -> App {
    let session = Session::open(
        p.open(),
        SessionOptions {
            annotator: annotator.into(),
            show_sources: false,
            queue: Default::default(),
        },
    )
    .unwrap();
    App::new(
        session,
        Keymap::default(),
        Encoder::halfblocks(),
        AppOptions {
            project_name: "project.db".into(),
            image_root: Some(p.root.clone()),
        },
        Box::new(|| {}),
    )
}

fn key_to_frame(c: &mut Criterion) {
    let p = annotate_support::project(20);
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let mut round = 0;
    let mut app = open_app(&p, "bench-0");
    let yes = KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE);
    c.bench_function("key_to_frame/answer_prefetched_200x60_halfblocks", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                if app.session().is_finished() {
                    // Every question answered: a fresh annotator starts the queue again.
                    round += 1;
                    app = open_app(&p, &format!("bench-{round}"));
                }
                // Untimed: the frame before, and the worker's loading of what it asked for.
                term.draw(|f| app.draw(f)).unwrap();
                assert!(app.settle(Duration::from_secs(30)));
                let t = Instant::now();
                app.handle_key(yes);
                term.draw(|f| app.draw(f)).unwrap();
                total += t.elapsed();
            }
            total
        })
    });
}

fn decode_resize_encode(c: &mut Criterion) {
    let photos = Path::new(annotate_support::PHOTOS);
    // The image area of a 200x60 screen.
    let area = Rect::new(0, 0, 118, 55);
    let halfblocks = Encoder::halfblocks();
    // A 10x20-pixel cell.
    let kitty = Encoder::with(Graphics::KittyPlaceholders, (10, 20));
    let mut g = c.benchmark_group("decode_resize_encode");
    for (name, file) in [
        ("butterfly_493x356_jpeg", "curated/opencv__butterfly.jpg"),
        (
            "imagenet_512x512_jpeg",
            "imagenet_labeled/imagenet_00_243.jpg",
        ),
    ] {
        let path = photos.join(file);
        g.bench_function(format!("halfblocks/{name}"), |b| {
            b.iter(|| halfblocks.load(&path, area).unwrap())
        });
    }
    let path = photos.join("curated/opencv__butterfly.jpg");
    g.bench_function("kitty_1180x1100px/butterfly_493x356_jpeg", |b| {
        b.iter(|| kitty.load(&path, area).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // No HTML plots: with plotters' `ab_glyph` feature on (for `report --plots`), criterion's
    // plots look for a font that is not there and panic.
    config = Criterion::default().without_plots();
    targets = key_to_frame, decode_resize_encode
}
criterion_main!(benches);
