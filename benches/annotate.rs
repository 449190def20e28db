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
//! `grid_page`: a page of 24 grid thumbnails (20x9 cells of half-blocks, the smallest cell) read,
//! decoded, resized and encoded one after another, as the image worker does, from the 20 shared
//! ImageNet photos (progressive JPEGs) and 4 curated ones; `_workers`: the same page through the
//! screen's image loader, its workers decoding side by side. Target: median under 25 ms.
//!
//! Run: `cargo bench --bench annotate -- --warm-up-time 1 --measurement-time 3`

#[path = "../tests/it/annotate_support.rs"]
mod annotate_support;

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use labelvet::annotate::{Session, SessionOptions};
use labelvet::tui::images::{Pictures, Request};
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
            carried: None,
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

fn grid_page(c: &mut Criterion) {
    let photos = Path::new(annotate_support::PHOTOS);
    let mut files: Vec<_> = std::fs::read_dir(photos.join("imagenet_labeled"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    files.sort();
    files.extend(
        [
            "opencv__butterfly.jpg",
            "opencv__baboon.jpg",
            "opencv__fruits.jpg",
            "darknet__giraffe.jpg",
        ]
        .map(|f| photos.join("curated").join(f)),
    );
    assert_eq!(files.len(), 24);
    // The inside of the grid's smallest cell (22x11 with its border).
    let thumb = Rect::new(0, 0, 20, 9);
    let halfblocks = Encoder::halfblocks();
    c.bench_function("grid_page/24_thumbnails_20x9_halfblocks", |b| {
        b.iter(|| {
            for f in &files {
                halfblocks.load(f, thumb).unwrap();
            }
        })
    });
    // The same page as the grid screen loads it: all 24 asked for in one frame, the image
    // workers (one a core) decoding side by side, until the last is ready. A fresh loader each
    // time (made and dropped untimed), so that nothing is served from its decoded images.
    c.bench_function("grid_page/24_thumbnails_20x9_halfblocks_workers", |b| {
        b.iter_batched(
            || Pictures::new(Encoder::halfblocks(), Box::new(|| {}), 24),
            |mut pictures| {
                for (id, f) in files.iter().enumerate() {
                    pictures.want(Request::fit(id as i64, Ok(f.clone().into()), thumb));
                }
                pictures.send();
                assert!(pictures.settle(Duration::from_secs(30)));
                pictures
            },
            BatchSize::PerIteration,
        )
    });
}

criterion_group! {
    name = benches;
    // No HTML plots: with plotters' `ab_glyph` feature on (for `report --plots`), criterion's
    // plots look for a font that is not there and panic.
    config = Criterion::default().without_plots();
    targets = key_to_frame, decode_resize_encode, grid_page
}
criterion_main!(benches);
