//! The report as one self-contained HTML page, for the people who read results in a browser
//! rather than a terminal (a lead, a paper's co-author): the text report's sections, its figures
//! inline as SVG, and the per-class and per-annotator tables sortable by a click on a column.
//!
//! Nothing is loaded from anywhere: styles and the small sorting script are inline, figures are
//! inline SVG, and a Content-Security-Policy of `default-src 'none'` (inline style and script
//! allowed) makes the browser refuse any request the page might try, so the file opens the same
//! from an e-mail attachment, offline, years later.

use std::fmt::Write as _;

use crate::analysis::project::{ProjectData, Results};
use crate::analysis::report::{ClassRef, Report, acc, class_label, coef, num, of, pct};
use crate::error::Result;
use crate::export::plots::svg_figures;

/// What a figure shows, under its drawing.
fn caption(name: &str) -> &'static str {
    match name {
        "selection_frequency" => {
            "Selection frequency yes / (yes + no) over the answered questions."
        }
        "scores" => "The method's scores over the questions, with the threshold.",
        "labels_per_image" => "Reviewed images by number of valid labels.",
        "accuracy_by_model" => {
            "Top-1 accuracy of each model on the original labels and on the label sets."
        }
        "annotator_agreement" => {
            "Each annotator's share of answers equal to the other annotators' consensus."
        }
        _ => "",
    }
}

/// `<` `>` `&` `"` `'` as entities, for text and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A table cell whose sort key is a number (`data-v`; empty for n/a, which sorts last).
fn num_cell(shown: &str, value: Option<f64>) -> String {
    match value {
        Some(v) => format!("<td data-v=\"{v}\">{}</td>", esc(shown)),
        None => format!("<td data-v=\"\">{}</td>", esc(shown)),
    }
}

fn count_cell(n: usize) -> String {
    num_cell(&num(n as u64), Some(n as f64))
}

fn share_cell(x: Option<f64>) -> String {
    num_cell(&pct(x), x)
}

fn class_cell(c: &ClassRef) -> String {
    format!("<td>{}</td>", esc(&class_label(c)))
}

/// One line of a definition list.
fn item(o: &mut String, term: &str, value: &str) {
    let _ = writeln!(o, "<dt>{}</dt><dd>{}</dd>", esc(term), esc(value));
}

/// Per class, over the questions with evidence: how often the label was asked and valid, and
/// how often the class as an image's original label was found not valid.
struct ClassRow {
    questions: usize,
    valid: usize,
    yes: u64,
    no: u64,
    maybe: u64,
    checked: usize,
    not_valid: usize,
}

fn class_rows(data: &ProjectData, res: &Results) -> Vec<(usize, ClassRow)> {
    let mut rows: Vec<Option<ClassRow>> = (0..data.classes.len()).map(|_| None).collect();
    for q in &res.questions {
        let r = rows[q.class as usize].get_or_insert(ClassRow {
            questions: 0,
            valid: 0,
            yes: 0,
            no: 0,
            maybe: 0,
            checked: 0,
            not_valid: 0,
        });
        r.questions += 1;
        r.valid += q.valid as usize;
        r.yes += q.counts.yes as u64;
        r.no += q.counts.no as u64;
        r.maybe += q.counts.maybe as u64;
        if data.images[q.image as usize].original == Some(q.class) {
            r.checked += 1;
            r.not_valid += !q.valid as usize;
        }
    }
    rows.into_iter()
        .enumerate()
        .filter_map(|(c, r)| r.map(|r| (c, r)))
        .collect()
}

const STYLE: &str = r#"
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#1b1b1b;background:#fff}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
.sub{color:#555;margin-top:0}.warn{color:#8a3b00}
dl{display:grid;grid-template-columns:max-content auto;gap:.15em 1.5em}dt{color:#444}dd{margin:0;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;margin:.5em 0;font-variant-numeric:tabular-nums}
th,td{padding:.2em .7em;border-bottom:1px solid #e3e3e3;text-align:right}
th:first-child,td:first-child,th.l,td.l{text-align:left}
thead th{background:#f3f3f3;position:sticky;top:0}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" \25B2"}
table.sortable th[aria-sort=descending]::after{content:" \25BC"}
.scroll{max-height:32em;overflow:auto;display:inline-block}
figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{color:#555}
.hint{color:#666;font-size:.9em}
"#;

/// Sorts a table by the clicked column (again: the other way); numbers by their `data-v`, n/a
/// last. `#sort=TABLE:COLUMN:asc|desc` in the address sorts on opening, so a sorted view can be
/// linked to.
const SCRIPT: &str = r#"
(function(){
  function key(td){var v=td.getAttribute('data-v');if(v===null)return td.textContent.toLowerCase();return v===''?null:parseFloat(v);}
  function sortBy(table,col,asc){
    var ths=table.tHead.rows[0].cells;
    for(var i=0;i<ths.length;i++)ths[i].removeAttribute('aria-sort');
    ths[col].setAttribute('aria-sort',asc?'ascending':'descending');
    var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
    rows.sort(function(a,b){
      var x=key(a.cells[col]),y=key(b.cells[col]);
      if(x===null&&y===null)return 0;if(x===null)return 1;if(y===null)return -1;
      var c=x<y?-1:x>y?1:0;return asc?c:-c;});
    rows.forEach(function(r){body.appendChild(r);});
  }
  var tables=document.querySelectorAll('table.sortable');
  Array.prototype.forEach.call(tables,function(table){
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,col){
      th.tabIndex=0;th.title='sort by this column';
      function go(){sortBy(table,col,th.getAttribute('aria-sort')!=='ascending');}
      th.addEventListener('click',go);
      th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();go();}});
    });
    table.setAttribute('data-sortable','ready');
  });
  var m=/^#sort=([\w-]+):(\d+):(asc|desc)$/.exec(location.hash);
  if(m){var t=document.getElementById(m[1]);if(t&&t.tHead&&+m[2]<t.tHead.rows[0].cells.length)sortBy(t,+m[2],m[3]==='asc');}
})();
"#;

/// The whole page.
pub fn report_html(report: &Report, data: &ProjectData, res: &Results) -> Result<String> {
    let (figures, skipped) = svg_figures(report)?;
    let mut o = String::with_capacity(64 * 1024);
    let title = format!("labelvet report: {}", report.project);
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"
    );
    // Nothing may be fetched; inline style and script only.
    let _ = writeln!(
        o,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
    );
    let _ = writeln!(
        o,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"labelvet {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        env!("CARGO_PKG_VERSION"),
        esc(&title)
    );
    let _ = writeln!(o, "<h1>{}</h1>", esc(&title));
    let mut how = format!("method: {}", report.method);
    if let Some(s) = &report.scores_file {
        let _ = write!(how, " from {s}");
    }
    if let Some(d) = &report.dawid_skene {
        let _ = write!(
            how,
            " ({} after {} iterations, prior {:.3})",
            if d.converged {
                "converged"
            } else {
                "NOT converged"
            },
            d.iterations,
            d.prior
        );
    }
    let _ = write!(how, "; a label is valid at score ≥ {}", report.threshold);
    let _ = writeln!(o, "<p class=\"sub\">{}</p>", esc(&how));
    for w in &report.warnings {
        let _ = writeln!(o, "<p class=\"warn\">warning: {}</p>", esc(w));
    }

    // Progress
    let p = &report.progress;
    let _ = writeln!(o, "<section id=\"progress\">\n<h2>Progress</h2>\n<dl>");
    item(
        &mut o,
        "questions answered",
        &of(p.questions_answered, p.candidate_questions as usize),
    );
    item(
        &mut o,
        "images with answers",
        &of(p.images_with_answers, p.images),
    );
    item(
        &mut o,
        "current answers",
        &format!(
            "{} by {} annotators",
            num(p.answers as u64),
            p.annotators.len()
        ),
    );
    let _ = writeln!(o, "</dl>\n</section>");

    // Label sets
    let l = &report.labels;
    let _ = writeln!(
        o,
        "<section id=\"label-sets\">\n<h2>Label sets ({} reviewed images)</h2>\n<dl>",
        num(l.reviewed_images as u64)
    );
    item(
        &mut o,
        "2+ valid labels",
        &of(l.multi_label, l.reviewed_images),
    );
    item(
        &mut o,
        "exactly 1 valid label",
        &of(l.single_label, l.reviewed_images),
    );
    item(
        &mut o,
        "no valid label",
        &of(l.with_no_valid_label, l.reviewed_images),
    );
    item(
        &mut o,
        "original label not valid",
        &of(l.original_not_valid, l.original_checked),
    );
    if let Some(m) = l.mean_valid_labels {
        item(
            &mut o,
            "valid labels per image",
            &format!("{m:.2} on average"),
        );
    }
    let _ = writeln!(o, "</dl>");
    if !report.frequent_pairs.is_empty() {
        let _ = writeln!(
            o,
            "<h3>Labels most often valid together</h3>\n<table id=\"pairs\">\n<thead><tr><th>label</th><th class=\"l\">label</th><th>images</th></tr></thead>\n<tbody>"
        );
        for pair in &report.frequent_pairs {
            let _ = writeln!(
                o,
                "<tr>{}{}{}</tr>",
                class_cell(&pair.a),
                class_cell(&pair.b).replacen("<td>", "<td class=\"l\">", 1),
                count_cell(pair.images)
            );
        }
        let _ = writeln!(o, "</tbody></table>");
    }
    let _ = writeln!(o, "</section>");

    // Per class
    let rows = class_rows(data, res);
    let _ = writeln!(
        o,
        "<section id=\"per-class\">\n<h2>Per class ({} classes with answered questions)</h2>\n\
         <p class=\"hint\">Click a column to sort. <em>Not valid as original</em>: images whose \
         original label is the class and where it was found not valid.</p>\n\
         <div class=\"scroll\"><table id=\"classes\" class=\"sortable\">\n<thead><tr><th>class</th>\
         <th class=\"l\">key</th><th>index</th><th>questions</th><th>valid</th><th>share valid</th><th>yes</th>\
         <th>no</th><th>maybe</th><th>as original</th><th>not valid as original</th>\
         <th>share not valid</th></tr></thead>\n<tbody>",
        num(rows.len() as u64)
    );
    for (c, r) in &rows {
        let class = &data.classes[*c];
        let share_valid = (r.questions > 0).then(|| r.valid as f64 / r.questions as f64);
        let share_rejected = (r.checked > 0).then(|| r.not_valid as f64 / r.checked as f64);
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=\"l\">{}</td>{}{}{}{}{}{}{}{}{}{}</tr>",
            esc(&class.name),
            esc(&class.key),
            match class.index {
                Some(i) => num_cell(&i.to_string(), Some(i as f64)),
                None => num_cell("", None),
            },
            count_cell(r.questions),
            count_cell(r.valid),
            share_cell(share_valid),
            count_cell(r.yes as usize),
            count_cell(r.no as usize),
            count_cell(r.maybe as usize),
            count_cell(r.checked),
            count_cell(r.not_valid),
            share_cell(share_rejected),
        );
    }
    let _ = writeln!(o, "</tbody></table></div>\n</section>");

    // Agreement and per annotator
    let a = &report.agreement;
    let _ = writeln!(
        o,
        "<section id=\"agreement\">\n<h2>Agreement ({} questions with 2+ answers, {} answers)</h2>\n<dl>",
        num(a.questions_used as u64),
        num(a.answers_used as u64)
    );
    item(&mut o, "percent agreement", &coef(a.percent));
    item(&mut o, "Krippendorff's alpha", &coef(a.krippendorff_alpha));
    item(
        &mut o,
        "Fleiss' kappa",
        &match a.fleiss_kappa {
            Some(k) => format!("{k:.3}"),
            None => "n/a (needs the same number of answers on every question)".into(),
        },
    );
    item(&mut o, "Gwet's AC1", &coef(a.gwet_ac1));
    let _ = writeln!(
        o,
        "</dl>\n<h3>Per annotator</h3>\n<p class=\"hint\">Agreement: share of the annotator's \
         answers equal to the most frequent answer of the other annotators of the question (ties \
         skipped); kappa: Cohen's kappa of that comparison. Click a column to sort.</p>\n\
         <div class=\"scroll\"><table id=\"annotators\" class=\"sortable\">\n<thead><tr>\
         <th>annotator</th><th>answers</th><th>images</th><th>yes</th><th>no</th><th>maybe</th>\
         <th>compared</th><th>agreement</th><th>kappa</th></tr></thead>\n<tbody>"
    );
    for ap in &p.annotators {
        let agr = a.per_annotator.iter().find(|r| r.annotator == ap.annotator);
        let _ = writeln!(
            o,
            "<tr><td>{}</td>{}{}{}{}{}{}{}{}</tr>",
            esc(&ap.annotator),
            count_cell(ap.answers),
            count_cell(ap.images),
            count_cell(ap.yes),
            count_cell(ap.no),
            count_cell(ap.maybe),
            count_cell(agr.map_or(0, |r| r.compared)),
            share_cell(agr.and_then(|r| r.agreement)),
            num_cell(
                &coef(agr.and_then(|r| r.cohen_kappa)),
                agr.and_then(|r| r.cohen_kappa)
            ),
        );
    }
    let _ = writeln!(o, "</tbody></table></div>\n</section>");

    // Models
    let _ = writeln!(o, "<section id=\"models\">\n<h2>Model top-1 accuracy</h2>");
    if report.models.is_empty() {
        let _ = writeln!(
            o,
            "<p>No model predictions in the project: import some to re-score models.</p>"
        );
    } else {
        let _ = writeln!(
            o,
            "<p class=\"hint\">Images counted in brackets; reviewed images with an empty label \
             set are left out, as ReaL does.</p>\n<table id=\"model-accuracy\" class=\"sortable\">\n\
             <thead><tr><th>model</th><th>original labels, all images</th>\
             <th>original labels, reviewed</th><th>label sets, reviewed</th><th>single-label</th>\
             <th>multi-label</th><th>ReaL-style, all images</th></tr></thead>\n<tbody>"
        );
        for m in &report.models {
            let _ = write!(o, "<tr><td>{}</td>", esc(&m.model));
            for x in [
                &m.original,
                &m.original_on_reviewed,
                &m.label_sets,
                &m.single_label,
                &m.multi_label,
                &m.real_style,
            ] {
                o.push_str(&num_cell(&acc(x), x.accuracy));
            }
            let _ = writeln!(o, "</tr>");
        }
        let _ = writeln!(o, "</tbody></table>");
    }
    let _ = writeln!(o, "</section>");

    // Classify
    if let Some(c) = &report.classify {
        let _ = writeln!(
            o,
            "<section id=\"classify\">\n<h2>Classify: main object and number of objects ({} \
             images, {} answers by {} annotators)</h2>\n<dl>",
            num(c.images as u64),
            num(c.answers as u64),
            c.annotators
        );
        item(&mut o, "2+ objects", &of(c.multi_object, c.images));
        item(
            &mut o,
            "main label not the original",
            &of(c.main_not_original, c.with_original),
        );
        let objects: Vec<String> = c
            .objects_per_image
            .iter()
            .map(|x| format!("{}: {}", x.objects, num(x.images as u64)))
            .collect();
        item(&mut o, "objects per image", &objects.join(", "));
        let _ = writeln!(o, "</dl>");
        if !c.confusions.is_empty() {
            let _ = writeln!(
                o,
                "<table id=\"main-vs-original\">\n<thead><tr><th>original</th><th class=\"l\">main</th>\
                 <th>images</th></tr></thead>\n<tbody>"
            );
            for x in &c.confusions {
                let _ = writeln!(
                    o,
                    "<tr>{}{}{}</tr>",
                    class_cell(&x.original),
                    class_cell(&x.main).replacen("<td>", "<td class=\"l\">", 1),
                    count_cell(x.images)
                );
            }
            let _ = writeln!(o, "</tbody></table>");
        }
        let _ = writeln!(o, "</section>");
    }

    // Figures
    let _ = writeln!(o, "<section id=\"figures\">\n<h2>Figures</h2>");
    for f in &figures {
        let _ = writeln!(
            o,
            "<figure id=\"figure-{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>",
            esc(&f.name),
            f.svg.trim(),
            esc(caption(&f.name))
        );
    }
    for s in &skipped {
        let _ = writeln!(o, "<p class=\"hint\">not drawn: {}</p>", esc(s));
    }
    let _ = writeln!(o, "</section>");
    let _ = writeln!(o, "<script>{SCRIPT}</script>\n</body>\n</html>");
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(
            esc("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
    }

    #[test]
    fn number_cells_carry_their_sort_key_and_na_sorts_last() {
        assert_eq!(count_cell(12345), "<td data-v=\"12345\">12,345</td>");
        assert_eq!(share_cell(None), "<td data-v=\"\">n/a</td>");
    }
}
