//! `labelvet predict`: run ONNX classifiers on the project's images and store their top-k.
//!
//! The inference engine is behind the `predict` cargo feature (tract takes minutes to build), so
//! a binary built without it still knows the command and says how to get it.

use anyhow::Result;

use crate::cli::PredictArgs;

#[cfg(not(feature = "predict"))]
pub fn run(args: PredictArgs) -> Result<()> {
    let _ = args;
    anyhow::bail!(
        "this labelvet was built without ONNX inference; rebuild it with \
         `cargo install --path . --features predict` (or run it with \
         `cargo run --release --features predict -- predict ...`)"
    )
}

#[cfg(feature = "predict")]
pub fn run(args: PredictArgs) -> Result<()> {
    let progress = super::progress_wanted();
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use anyhow::{Context, bail};
    use labelvet::predict::{self, ModelConfig, ModelSpec, Normalize, PredictOptions};
    use labelvet::store::Store;

    let mut models = Vec::new();
    for m in &args.models {
        let Some((name, path)) = m.split_once('=') else {
            bail!("--model {m}: write it as NAME=FILE.onnx (the name its predictions go under)");
        };
        if name.trim().is_empty() || path.is_empty() {
            bail!("--model {m}: write it as NAME=FILE.onnx, both parts non-empty");
        }
        models.push(ModelSpec {
            name: name.trim().to_string(),
            path: path.into(),
        });
    }
    let normalize = match (&args.mean, &args.std, args.scale_127) {
        (_, _, true) => Normalize::Scale127,
        (Some(mean), Some(std), false) => Normalize::MeanStd {
            mean: three("--mean", mean)?,
            std: three("--std", std)?,
        },
        _ => Normalize::IMAGENET,
    };
    if let Normalize::MeanStd { std, .. } = normalize
        && std.iter().any(|s| *s <= 0.0 || !s.is_finite())
    {
        bail!("--std values must be positive");
    }
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let opts = PredictOptions {
        models,
        config: ModelConfig {
            input_size: args.input_size,
            resize_shorter: args.resize_shorter,
            normalize,
            batch: args.batch,
        },
        images: args.images.clone(),
        top_k: args.top_k,
        commit_every: args.commit_every.max(1),
        force: args.force,
        progress,
    };

    // First Ctrl-C (or SIGTERM): finish the images in flight, commit, report. A second one
    // exits at once; committed chunks are safe either way.
    let cancel = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&cancel))
            .context("installing the Ctrl-C handler")?;
        signal_hook::flag::register(sig, Arc::clone(&cancel))
            .context("installing the Ctrl-C handler")?;
    }

    let mut store = Store::open(&args.project)?;
    let report = predict::predict(&mut store, &opts, &cancel)?;
    for run in &report.models {
        let p = run.preprocess.expect("set for every model run");
        outln!(
            "{}: {} image{} predicted in {:.1} s ({:.1} images/s), {} already done, {} skipped",
            run.name,
            run.predicted,
            if run.predicted == 1 { "" } else { "s" },
            run.elapsed.as_secs_f64(),
            run.images_per_second(),
            run.already,
            run.skipped.len()
        );
        outln!(
            "  input {r}x{r} {}, shorter side resized to {}, {}; batch {}",
            match p.layout {
                predict::Layout::Nchw => "NCHW",
                predict::Layout::Nhwc => "NHWC",
            },
            p.resize_shorter,
            p.normalize,
            run.batch,
            r = p.input_size,
        );
        if run.batch_refused.is_some() {
            // tract's reason is a dump of the graph's shapes: what matters is what to do.
            outln!(
                "  note: the model has no batch axis (its graph fixes a batch of 1), so --batch {} \
                 ran one image at a time; to batch, export the model with a dynamic batch axis \
                 (torch.onnx.export's dynamic_axes); on CPU one image at a time is usually as fast",
                args.batch
            );
        }
        const SHOWN: usize = 20;
        for (key, why) in run.skipped.iter().take(SHOWN) {
            outln!(
                "  skipped: {}: {}",
                labelvet::text::display(key),
                labelvet::text::display(why)
            );
        }
        if run.skipped.len() > SHOWN {
            outln!("  ... and {} more skipped", run.skipped.len() - SHOWN);
        }
    }
    let (mean, min, max) = store.candidate_stats()?;
    outln!("candidates per image: mean {mean:.1}, min {min}, max {max}");
    if report.interrupted {
        drop(store);
        eprintln!(
            "interrupted: the images listed above are saved; run the same command again to \
             continue"
        );
        std::process::exit(130);
    }
    Ok(())
}

#[cfg(feature = "predict")]
fn three(flag: &str, v: &[f32]) -> Result<[f32; 3]> {
    <[f32; 3]>::try_from(v).map_err(|_| {
        anyhow::anyhow!(
            "{flag} takes three comma-separated values (R,G,B), got {}",
            v.len()
        )
    })
}
