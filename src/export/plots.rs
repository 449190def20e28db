//! The report's figures, each as SVG (for papers, scales cleanly) and PNG (for slides and quick
//! looks), drawn with plotters from the same [`Report`] the text and JSON come from.
//!
//! PNG text needs a font. plotters' default font path asks the system (fontconfig) for one,
//! which a fresh machine or CI may not have; its `ab_glyph` feature instead renders from font
//! bytes we hand it, so DejaVu Sans (Bitstream Vera licence, `assets/fonts/DejaVuSans-LICENSE`)
//! is bundled in the binary and registered once.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::combinators::WithKeyPoints;
use plotters::coord::types::{RangedCoordf64, RangedCoordi32};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::analysis::report::{ModelAccuracy, Report};
use crate::error::{Error, Result};

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    if *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok())
    {
        Ok(())
    } else {
        Err(Error::msg("the bundled font could not be loaded"))
    }
}

/// What `write_plots` made, and which figures it left out and why.
#[derive(Clone, Debug, Default)]
pub struct Plots {
    pub files: Vec<PathBuf>,
    pub skipped: Vec<String>,
}

/// Draws every figure the report has data for into `dir` (made if missing).
pub fn write_plots(report: &Report, dir: &Path) -> Result<Plots> {
    register_font()?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = Plots::default();
    draw_all(report, &mut Target::Files { dir, out: &mut out })?;
    Ok(out)
}

/// One drawn figure as SVG text, for pages that carry their figures inline.
#[derive(Clone, Debug)]
pub struct SvgFigure {
    /// The file stem `write_plots` would use (`selection_frequency`, ...).
    pub name: String,
    pub svg: String,
}

/// Every figure the report has data for, as SVG text (the same drawings `write_plots` saves),
/// and the reasons for the ones left out.
pub fn svg_figures(report: &Report) -> Result<(Vec<SvgFigure>, Vec<String>)> {
    let mut figures = Vec::new();
    let mut skipped = Vec::new();
    draw_all(
        report,
        &mut Target::Svg {
            figures: &mut figures,
            skipped: &mut skipped,
        },
    )?;
    Ok((figures, skipped))
}

/// Where `save` puts a figure: SVG and PNG files, or SVG text in memory.
enum Target<'a> {
    Files {
        dir: &'a Path,
        out: &'a mut Plots,
    },
    Svg {
        figures: &'a mut Vec<SvgFigure>,
        skipped: &'a mut Vec<String>,
    },
}

impl Target<'_> {
    fn skip(&mut self, why: String) {
        match self {
            Target::Files { out, .. } => out.skipped.push(why),
            Target::Svg { skipped, .. } => skipped.push(why),
        }
    }
}

fn draw_all(report: &Report, out: &mut Target<'_>) -> Result<()> {
    let sf = &report.distributions.selection_frequency;
    let answered: usize = sf.counts.iter().sum::<usize>() + sf.undefined;
    if answered > 0 {
        let mut title = format!(
            "Selection frequency of {} answered questions",
            thousands(answered)
        );
        if sf.undefined > 0 {
            title.push_str(&format!(" ({} only \"maybe\")", thousands(sf.undefined)));
        }
        let fig = HistogramFigure {
            title,
            x_desc: "selection frequency  yes / (yes + no)".into(),
            counts: &sf.counts,
            threshold: (report.method == "frequency").then_some(report.threshold),
        };
        save(&fig, "selection_frequency", out)?;
    } else {
        out.skip("selection_frequency: no answers yet".into());
    }
    if let Some(score) = &report.distributions.score {
        let fig = HistogramFigure {
            title: format!(
                "Scores ({}) of {} questions",
                report.method,
                thousands(score.counts.iter().sum())
            ),
            x_desc: format!("{} score", report.method),
            counts: &score.counts,
            threshold: Some(report.threshold),
        };
        save(&fig, "scores", out)?;
    }

    let lpi = &report.distributions.labels_per_image;
    if report.labels.reviewed_images > 0 {
        let fig = LabelsPerImage {
            counts: lpi,
            threshold: report.threshold,
        };
        save(&fig, "labels_per_image", out)?;
    } else {
        out.skip("labels_per_image: no reviewed images".into());
    }

    if report.models.iter().any(|m| m.original.images > 0) {
        let fig = AccuracyFigure {
            models: &report.models,
        };
        save(&fig, "accuracy_by_model", out)?;
    } else {
        out.skip("accuracy_by_model: no model predictions in the project".into());
    }

    let mut rows: Vec<(String, f64)> = report
        .agreement
        .per_annotator
        .iter()
        .filter_map(|r| r.agreement.map(|a| (r.annotator.clone(), a)))
        .collect();
    if rows.is_empty() {
        out.skip("annotator_agreement: no annotator shares a question with others".into());
    } else {
        rows.sort_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        let fig = AgreementFigure { rows: &rows };
        save(&fig, "annotator_agreement", out)?;
    }

    let mut gold: Vec<GoldRow> = report
        .annotators
        .iter()
        .filter_map(|a| {
            Some(GoldRow {
                annotator: a.annotator.clone(),
                accuracy: a.gold_accuracy?,
                low: a.gold_ci_low?,
                high: a.gold_ci_high?,
                flagged: a.flagged,
            })
        })
        .collect();
    if gold.is_empty() {
        out.skip("gold_accuracy: no annotator answered a gold question yes or no".into());
    } else {
        gold.sort_by(|a, b| {
            a.accuracy
                .total_cmp(&b.accuracy)
                .then(b.annotator.cmp(&a.annotator))
        });
        let fig = GoldFigure {
            rows: &gold,
            min: report.gold.min_gold_accuracy,
        };
        save(&fig, "gold_accuracy", out)?;
    }

    if report.speed.timed_answers > 0 {
        save(&SpeedFigure { report }, "answer_speed", out)?;
    } else {
        out.skip("answer_speed: no answer has a recorded time".into());
    }
    Ok(())
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

type DrawResult = std::result::Result<(), String>;

/// One figure, drawable on any plotters backend, so SVG and PNG come from the same code.
trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn save<F: Figure>(fig: &F, name: &str, target: &mut Target<'_>) -> Result<()> {
    let (w, h) = fig.size();
    let (dir, out) = match target {
        Target::Files { dir, out } => (*dir, &mut **out),
        Target::Svg { figures, .. } => {
            register_font()?;
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
                fig.draw(&root)
                    .and_then(|()| root.present().map_err(err))
                    .map_err(|e| Error::msg(format!("figure {name}: {e}")))?;
            }
            figures.push(SvgFigure {
                name: name.to_string(),
                svg,
            });
            return Ok(());
        }
    };
    let svg = dir.join(format!("{name}.svg"));
    {
        let root = SVGBackend::new(&svg, (w, h)).into_drawing_area();
        fig.draw(&root)
            .and_then(|()| root.present().map_err(err))
            .map_err(|e| Error::msg(format!("{}: {e}", svg.display())))?;
    }
    let png = dir.join(format!("{name}.png"));
    let mut buf = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        fig.draw(&root)
            .and_then(|()| root.present().map_err(err))
            .map_err(|e| Error::msg(format!("{}: {e}", png.display())))?;
    }
    let img = image::RgbImage::from_raw(w, h, buf)
        .ok_or_else(|| Error::msg(format!("{}: pixel buffer of the wrong size", png.display())))?;
    img.save_with_format(&png, image::ImageFormat::Png)
        .map_err(|e| Error::msg(format!("{}: {e}", png.display())))?;
    out.files.push(svg);
    out.files.push(png);
    Ok(())
}

/// Width of one category on a categorical axis. plotters formats tick labels of integer axes
/// through a closure but not of `f64` axes with fixed key points, so categories sit on an
/// integer axis, `UNIT` wide, and bars are placed within them in hundredths.
const UNIT: i32 = 100;

fn bar_color() -> RGBColor {
    RGBColor(52, 101, 164)
}

/// Colour-blind-safe colours (Okabe & Ito) for grouped bars.
const GROUP_COLORS: [RGBColor; 4] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
];

struct HistogramFigure<'a> {
    title: String,
    x_desc: String,
    counts: &'a [usize],
    threshold: Option<f64>,
}

impl Figure for HistogramFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        let top = self.counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.08;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FAMILY, 26))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(0f64..1f64, 0f64..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(11)
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| thousands(*v as usize))
            .x_desc(self.x_desc.as_str())
            .y_desc("questions")
            .label_style((FAMILY, 18))
            .axis_desc_style((FAMILY, 20))
            .draw()
            .map_err(err)?;
        let n = self.counts.len() as f64;
        let gap = 0.1 / n;
        chart
            .draw_series(self.counts.iter().enumerate().map(|(i, &c)| {
                let x0 = i as f64 / n;
                Rectangle::new(
                    [(x0 + gap, 0.0), (x0 + 1.0 / n - gap, c as f64)],
                    bar_color().filled(),
                )
            }))
            .map_err(err)?;
        if let Some(t) = self.threshold {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(t, 0.0), (t, top)],
                    RED.stroke_width(3),
                )))
                .map_err(err)?
                .label(format!("threshold {t}"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(3)));
            chart
                .configure_series_labels()
                .label_font((FAMILY, 18))
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperMiddle)
                .draw()
                .map_err(err)?;
        }
        Ok(())
    }
}

struct LabelsPerImage<'a> {
    counts: &'a [usize],
    threshold: f64,
}

impl Figure for LabelsPerImage<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        let k = self.counts.len().max(2);
        let total: usize = self.counts.iter().sum();
        let top = self.counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.12;
        let keys: Vec<i32> = (0..k as i32).map(|i| i * UNIT).collect();
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "Valid labels per reviewed image ({} images, threshold {})",
                    thousands(total),
                    self.threshold
                ),
                (FAMILY, 24),
            )
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(
                (-UNIT / 2..k as i32 * UNIT - UNIT / 2).with_key_points(keys),
                0f64..top,
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&|v| format!("{}", v / UNIT))
            .y_label_formatter(&|v| thousands(*v as usize))
            .x_desc("valid labels")
            .y_desc("images")
            .label_style((FAMILY, 18))
            .axis_desc_style((FAMILY, 20))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(self.counts.iter().enumerate().map(|(i, &c)| {
                let x = i as i32 * UNIT;
                Rectangle::new([(x - 35, 0.0), (x + 35, c as f64)], bar_color().filled())
            }))
            .map_err(err)?;
        chart
            .draw_series(self.counts.iter().enumerate().map(|(i, &c)| {
                let share = if total > 0 {
                    100.0 * c as f64 / total as f64
                } else {
                    0.0
                };
                Text::new(
                    format!("{share:.1}%"),
                    (i as i32 * UNIT, c as f64 + top * 0.01),
                    above(16),
                )
            }))
            .map_err(err)?;
        Ok(())
    }
}

/// Text centred above the point it is drawn at: the value labels of bars.
fn above(size: u32) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom))
}

/// Which of a model's accuracies a group of bars shows.
type AccuracyOf = fn(&ModelAccuracy) -> Option<f64>;

struct AccuracyFigure<'a> {
    models: &'a [ModelAccuracy],
}

impl Figure for AccuracyFigure<'_> {
    fn size(&self) -> (u32, u32) {
        ((260 * self.models.len() as u32 + 300).max(900), 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        let n = self.models.len();
        let keys: Vec<i32> = (0..n as i32).map(|i| i * UNIT + UNIT / 2).collect();
        let names: Vec<String> = self.models.iter().map(|m| m.model.clone()).collect();
        let groups: [(&str, AccuracyOf); 4] = [
            ("original labels (all images)", |m| m.original.accuracy),
            ("label sets (reviewed images)", |m| m.label_sets.accuracy),
            ("single-label images", |m| m.single_label.accuracy),
            ("multi-label images", |m| m.multi_label.accuracy),
        ];
        // The legend gets a strip of its own under the title, so the axis ends at 100%, where
        // accuracy does (a band above it for the legend read as a scale to 135%).
        let titled = root
            .titled(
                "Top-1 accuracy: original labels vs label sets",
                (FAMILY, 26),
            )
            .map_err(err)?;
        let (legend, plot) = titled.split_vertically(40);
        let (width_px, _) = legend.dim_in_pixel();
        let slot = width_px as i32 / groups.len() as i32;
        for (g, (label, _)) in groups.iter().enumerate() {
            let x = g as i32 * slot + 20;
            legend
                .draw(&Rectangle::new(
                    [(x, 12), (x + 16, 24)],
                    GROUP_COLORS[g].filled(),
                ))
                .map_err(err)?;
            legend
                .draw(&Text::new(*label, (x + 22, 10), (FAMILY, 16)))
                .map_err(err)?;
        }
        let mut chart = ChartBuilder::on(&plot)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d((0..n as i32 * UNIT).with_key_points(keys), 0f64..100f64)
            .map_err(err)?;
        let formatter = move |v: &i32| names.get((v / UNIT) as usize).cloned().unwrap_or_default();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&formatter)
            .y_label_formatter(&|v| format!("{v:.0}%"))
            .y_desc("top-1 accuracy")
            .label_style((FAMILY, 18))
            .axis_desc_style((FAMILY, 20))
            .draw()
            .map_err(err)?;
        let width = 80 / groups.len() as i32;
        for (g, (_, get)) in groups.iter().enumerate() {
            let color = GROUP_COLORS[g];
            let bars: Vec<(i32, f64)> = self
                .models
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    get(m).map(|a| (i as i32 * UNIT + 10 + g as i32 * width, 100.0 * a))
                })
                .collect();
            chart
                .draw_series(bars.iter().map(|&(x, v)| {
                    Rectangle::new([(x + 1, 0.0), (x + width - 1, v)], color.filled())
                }))
                .map_err(err)?;
            // The value above its bar, or inside its top when the bar reaches the axis's end.
            chart
                .draw_series(bars.iter().map(|&(x, v)| {
                    let (at, style) = if v > 93.0 {
                        (v - 1.0, below(14))
                    } else {
                        (v + 1.0, above(14))
                    };
                    Text::new(format!("{v:.1}"), (x + width / 2, at), style)
                }))
                .map_err(err)?;
        }
        Ok(())
    }
}

fn below(size: u32) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font()).pos(Pos::new(HPos::Center, VPos::Top))
}

struct AgreementFigure<'a> {
    /// (annotator, share agreeing with the others' consensus), lowest first.
    rows: &'a [(String, f64)],
}

impl Figure for AgreementFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (900, (18 * self.rows.len() as u32 + 160).max(420))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let names: Vec<String> = self.rows.iter().map(|r| r.0.clone()).collect();
        let mut chart = annotator_chart(
            root,
            "Agreement of each annotator with the others' consensus",
            "answers equal to the most frequent answer of the other annotators",
            names,
        )?;
        chart
            .draw_series(self.rows.iter().enumerate().map(|(i, (_, a))| {
                let y = i as i32 * UNIT;
                Rectangle::new([(0.0, y + 15), (*a, y + 85)], bar_color().filled())
            }))
            .map_err(err)?;
        Ok(())
    }
}

/// A chart of one horizontal bar per annotator (`names`, bottom first) over 0..100%: category
/// `i` spans `i * UNIT .. (i + 1) * UNIT` on the y axis.
fn annotator_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    names: Vec<String>,
) -> std::result::Result<
    ChartContext<'a, DB, Cartesian2d<RangedCoordf64, WithKeyPoints<RangedCoordi32>>>,
    String,
> {
    root.fill(&WHITE).map_err(err)?;
    let n = names.len() as i32;
    let keys: Vec<i32> = (0..n).map(|i| i * UNIT + UNIT / 2).collect();
    let name_width = names.iter().map(|s| s.chars().count()).max().unwrap_or(4) as u32;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, 24))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size((name_width * 9 + 30).clamp(60, 300))
        .build_cartesian_2d(0f64..1f64, (0..n * UNIT).with_key_points(keys))
        .map_err(err)?;
    let formatter = move |v: &i32| names.get((v / UNIT) as usize).cloned().unwrap_or_default();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_labels(11)
        .x_label_formatter(&|v| format!("{:.0}%", 100.0 * v))
        .y_label_formatter(&formatter)
        .x_desc(x_desc)
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 18))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

struct GoldRow {
    annotator: String,
    accuracy: f64,
    low: f64,
    high: f64,
    flagged: bool,
}

/// Per annotator, gold accuracy with its Wilson 95% interval; flagged annotators in red, the
/// flag's threshold as a line.
struct GoldFigure<'a> {
    /// Lowest accuracy first.
    rows: &'a [GoldRow],
    min: f64,
}

impl Figure for GoldFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (900, (18 * self.rows.len() as u32 + 160).max(420))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let n = self.rows.len();
        let names: Vec<String> = self.rows.iter().map(|r| r.annotator.clone()).collect();
        let mut chart = annotator_chart(
            root,
            "Accuracy on gold questions, 95% interval",
            "yes/no answers on gold questions equal to the experts' majority",
            names,
        )?;
        let color = |r: &GoldRow| if r.flagged { RED } else { bar_color() };
        chart
            .draw_series(self.rows.iter().enumerate().map(|(i, r)| {
                let y = i as i32 * UNIT;
                Rectangle::new([(0.0, y + 30), (r.accuracy, y + 70)], color(r).filled())
            }))
            .map_err(err)?;
        chart
            .draw_series(self.rows.iter().enumerate().map(|(i, r)| {
                let y = i as i32 * UNIT + UNIT / 2;
                PathElement::new(vec![(r.low, y), (r.high, y)], BLACK.stroke_width(2))
            }))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(self.min, 0), (self.min, n as i32 * UNIT)],
                RED.stroke_width(2),
            )))
            .map_err(err)?;
        Ok(())
    }
}

/// Seconds per answer: the histogram of the recorded times, bins of `SPEED_EDGES_S`.
struct SpeedFigure<'a> {
    report: &'a Report,
}

impl Figure for SpeedFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        let sp = &self.report.speed;
        let bins = &sp.histogram;
        let n = bins.len() as i32;
        let keys: Vec<i32> = (0..n).map(|i| i * UNIT + UNIT / 2).collect();
        let names: Vec<String> = bins
            .iter()
            .map(|b| match b.to_seconds {
                Some(to) => format!("{}-{} s", b.from_seconds, to),
                None => format!("{}+ s", b.from_seconds),
            })
            .collect();
        let top = bins.iter().map(|b| b.answers).max().unwrap_or(0).max(1) as f64 * 1.1;
        let mut title = format!(
            "Seconds per answer: {} timed answers, median {:.2} s",
            thousands(sp.timed_answers as usize),
            sp.median_seconds.unwrap_or(0.0)
        );
        if sp.untimed_answers > 0 {
            title.push_str(&format!(
                " ({} without a time)",
                thousands(sp.untimed_answers as usize)
            ));
        }
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FAMILY, 22))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d((0..n * UNIT).with_key_points(keys), 0f64..top)
            .map_err(err)?;
        let formatter = move |v: &i32| names.get((v / UNIT) as usize).cloned().unwrap_or_default();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&formatter)
            .y_label_formatter(&|v| thousands(*v as usize))
            .x_desc("seconds per answer (red: under 400 ms, too quick to have looked)")
            .y_desc("answers")
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 18))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(bins.iter().enumerate().map(|(i, b)| {
                let x = i as i32 * UNIT;
                let quick = b.to_seconds.is_some_and(|t| t <= 0.4);
                let color = if quick { RED } else { bar_color() };
                Rectangle::new([(x + 10, 0.0), (x + 90, b.answers as f64)], color.filled())
            }))
            .map_err(err)?;
        Ok(())
    }
}

/// One rule's point of a `simulate --sweep` figure.
#[derive(Clone, Debug)]
pub struct SweepPoint {
    pub rule: String,
    /// Share of all answers the rule used, 0..1.
    pub share_used: f64,
    /// Validity agreement with all the answers, 0..1.
    pub agreement: f64,
}

/// A family of rules (`margin:K`, `posterior:P`, ...) drawn as one line.
#[derive(Clone, Debug)]
pub struct SweepSeries {
    pub name: String,
    pub points: Vec<SweepPoint>,
}

/// Draws `simulate --sweep`'s figure, answers used against validity agreement, into
/// `dir/sweep.svg` and `dir/sweep.png`.
pub fn write_sweep(title: &str, series: &[SweepSeries], dir: &Path) -> Result<Plots> {
    register_font()?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = Plots::default();
    let fig = SweepFigure { title, series };
    save(&fig, "sweep", &mut Target::Files { dir, out: &mut out })?;
    Ok(out)
}

struct SweepFigure<'a> {
    title: &'a str,
    series: &'a [SweepSeries],
}

impl Figure for SweepFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 650)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        let points = self.series.iter().flat_map(|s| &s.points);
        let low = points.clone().map(|p| p.agreement).fold(1.0f64, f64::min);
        // Percent on both axes; the agreement axis from a little under the lowest point.
        let y0 = ((low * 100.0 - 0.5).floor()).max(0.0);
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, (FAMILY, 24))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..100f64, y0..100.2f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(11)
            .x_label_formatter(&|v| format!("{v:.0}%"))
            .y_label_formatter(&|v| format!("{v:.1}%"))
            .x_desc("answers used (share of all answers)")
            .y_desc("validity agreement with all answers")
            .label_style((FAMILY, 18))
            .axis_desc_style((FAMILY, 20))
            .draw()
            .map_err(err)?;
        for (i, s) in self.series.iter().enumerate() {
            let color = GROUP_COLORS[i % GROUP_COLORS.len()];
            let xy: Vec<(f64, f64)> = s
                .points
                .iter()
                .map(|p| (100.0 * p.share_used, 100.0 * p.agreement))
                .collect();
            chart
                .draw_series(std::iter::once(PathElement::new(
                    xy.clone(),
                    color.stroke_width(2),
                )))
                .map_err(err)?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
            chart
                .draw_series(xy.iter().map(|&p| Circle::new(p, 5, color.filled())))
                .map_err(err)?;
            chart
                .draw_series(s.points.iter().zip(&xy).map(|(p, &(x, y))| {
                    Text::new(
                        p.rule.clone(),
                        (x, y),
                        TextStyle::from((FAMILY, 14).into_font())
                            .pos(Pos::new(HPos::Left, VPos::Bottom)),
                    )
                }))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .label_font((FAMILY, 18))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(err)?;
        Ok(())
    }
}
