//! One ONNX image classifier, loaded with tract and optimized for a fixed input shape.
//!
//! The plan is shared by every worker thread (each runs its own state), which is how both cores
//! are used: many exported classifiers hard-code a batch of one in their flatten step (the
//! bundled EfficientNet-Lites do), and for those a batch axis is not an option at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use super::preprocess::{Layout, Normalize, Preprocess, default_resize_shorter};
use crate::error::{Error, Result};

/// How to build a classifier: what the command line says about it.
#[derive(Clone, Debug)]
pub struct ModelConfig {
    /// Square input size; read from the model when it is fixed there.
    pub input_size: Option<u32>,
    /// Defaults to `round(input_size / 0.875)`.
    pub resize_shorter: Option<u32>,
    pub normalize: Normalize,
    /// Images per inference call; a model that refuses the batch axis runs one at a time.
    pub batch: usize,
}

pub struct Classifier {
    pub path: PathBuf,
    plan: Arc<TypedRunnableModel>,
    pub preprocess: Preprocess,
    /// Images per inference call.
    pub batch: usize,
    /// Why a batch larger than one was refused by the model, when it was.
    pub batch_refused: Option<String>,
    /// Output size: the number of classes the model scores.
    pub classes: usize,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("path", &self.path)
            .field("preprocess", &self.preprocess)
            .field("batch", &self.batch)
            .field("classes", &self.classes)
            .finish()
    }
}

fn model_error(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::msg(format!("{}: {what}: {e:#}", path.display()))
}

impl Classifier {
    /// Loads and optimizes the model. Fails, naming the file, when it is not ONNX, when its input
    /// is not one image tensor, or when its input size is neither fixed nor given.
    pub fn load(path: &Path, cfg: &ModelConfig) -> Result<Classifier> {
        if !path.is_file() {
            return Err(Error::msg(format!(
                "{}: no such model file",
                path.display()
            )));
        }
        let onnx = tract_onnx::onnx();
        let model = onnx
            .model_for_path(path)
            .map_err(|e| model_error(path, "cannot load the ONNX model", e))?;
        if model.inputs.len() != 1 {
            return Err(Error::msg(format!(
                "{}: the model takes {} inputs; an image classifier takes one image tensor",
                path.display(),
                model.inputs.len()
            )));
        }
        let fact = model
            .input_fact(0)
            .map_err(|e| model_error(path, "reading the input", e))?;
        let dims: Vec<Option<i64>> = fact
            .shape
            .dims()
            .map(|d| d.concretize().and_then(|t| t.to_i64().ok()))
            .collect();
        let (layout, fixed) = input_layout(path, &dims)?;
        let input_size = match (fixed, cfg.input_size) {
            (Some(m), Some(given)) if m != given => {
                return Err(Error::msg(format!(
                    "{}: the model takes {m}x{m} images; --input-size {given} disagrees",
                    path.display()
                )));
            }
            (Some(m), _) => m,
            (None, Some(given)) => given,
            (None, None) => {
                return Err(Error::msg(format!(
                    "{}: the model's input size is not fixed; give it with --input-size",
                    path.display()
                )));
            }
        };
        if input_size == 0 {
            return Err(Error::msg("--input-size must be at least 1"));
        }
        let resize_shorter = cfg
            .resize_shorter
            .unwrap_or_else(|| default_resize_shorter(input_size));
        if resize_shorter < input_size {
            return Err(Error::msg(format!(
                "--resize-shorter {resize_shorter} is smaller than the {input_size}x{input_size} \
                 crop"
            )));
        }
        let preprocess = Preprocess {
            input_size,
            resize_shorter,
            normalize: cfg.normalize,
            layout,
        };
        let batch = cfg.batch.max(1);
        let (plan, classes, batch, batch_refused) =
            match build(&onnx, path, layout, input_size, batch) {
                Ok((plan, classes)) => (plan, classes, batch, None),
                Err(e) if batch > 1 => {
                    let (plan, classes) = build(&onnx, path, layout, input_size, 1)?;
                    (plan, classes, 1, Some(e.to_string()))
                }
                Err(e) => return Err(e),
            };
        Ok(Classifier {
            path: path.to_path_buf(),
            plan,
            preprocess,
            batch,
            batch_refused,
            classes,
        })
    }

    /// A fresh inference state; each worker thread keeps one.
    pub fn state(&self) -> Result<TypedSimpleState> {
        self.plan
            .spawn()
            .map_err(|e| model_error(&self.path, "cannot start the model", e))
    }

    /// Scores up to `batch` prepared images (each `preprocess.len()` values): one row of
    /// `classes` raw outputs per image.
    pub fn run(&self, state: &mut TypedSimpleState, images: &[&[f32]]) -> Result<Vec<Vec<f32>>> {
        assert!(!images.is_empty() && images.len() <= self.batch);
        let n = self.preprocess.len();
        let mut data = vec![0.0f32; self.batch * n];
        for (i, img) in images.iter().enumerate() {
            data[i * n..(i + 1) * n].copy_from_slice(img);
        }
        let r = self.preprocess.input_size as usize;
        let shape = match self.preprocess.layout {
            Layout::Nchw => [self.batch, 3, r, r],
            Layout::Nhwc => [self.batch, r, r, 3],
        };
        let input = Tensor::from_shape(&shape, &data)
            .map_err(|e| model_error(&self.path, "building the input", e))?;
        let out = state
            .run(tvec!(input.into_tvalue()))
            .map_err(|e| model_error(&self.path, "inference failed", e))?;
        let view = out[0]
            .to_plain_array_view::<f32>()
            .map_err(|e| model_error(&self.path, "reading the output", e))?;
        let flat: Vec<f32> = view.iter().copied().collect();
        if flat.len() != self.batch * self.classes {
            return Err(Error::msg(format!(
                "{}: the model gave {} values for {} images of {} classes",
                self.path.display(),
                flat.len(),
                self.batch,
                self.classes
            )));
        }
        Ok(flat
            .chunks_exact(self.classes)
            .take(images.len())
            .map(<[f32]>::to_vec)
            .collect())
    }
}

/// The channel layout and, when the model fixes it, the square input size.
fn input_layout(path: &Path, dims: &[Option<i64>]) -> Result<(Layout, Option<u32>)> {
    if dims.len() != 4 {
        return Err(Error::msg(format!(
            "{}: the model's input has {} axes; an image classifier takes [batch, 3, size, \
             size] or [batch, size, size, 3]",
            path.display(),
            dims.len()
        )));
    }
    let (layout, h, w) = match (dims[1], dims[3]) {
        (Some(3), _) => (Layout::Nchw, dims[2], dims[3]),
        (_, Some(3)) => (Layout::Nhwc, dims[1], dims[2]),
        (None, None) => (Layout::Nchw, dims[2], dims[3]),
        _ => {
            return Err(Error::msg(format!(
                "{}: the model's input shape {} has no axis of 3 colour channels",
                path.display(),
                show_dims(dims)
            )));
        }
    };
    let size = match (h, w) {
        (Some(h), Some(w)) if h == w && h > 0 => Some(h as u32),
        (None, None) => None,
        _ => {
            return Err(Error::msg(format!(
                "{}: the model's input shape {} is not square; only square inputs are supported",
                path.display(),
                show_dims(dims)
            )));
        }
    };
    Ok((layout, size))
}

fn show_dims(dims: &[Option<i64>]) -> String {
    let d: Vec<String> = dims
        .iter()
        .map(|d| d.map_or("?".to_string(), |v| v.to_string()))
        .collect();
    format!("[{}]", d.join(", "))
}

/// Fixes the input shape, checks the output is one score per class, and optimizes.
fn build(
    onnx: &tract_onnx::Onnx,
    path: &Path,
    layout: Layout,
    size: u32,
    batch: usize,
) -> Result<(Arc<TypedRunnableModel>, usize)> {
    let r = size as usize;
    let shape = match layout {
        Layout::Nchw => [batch, 3, r, r],
        Layout::Nhwc => [batch, r, r, 3],
    };
    let typed = onnx
        .model_for_path(path)
        .and_then(|m| m.with_input_fact(0, f32::fact(shape).into()))
        .and_then(|m| m.into_typed())
        .map_err(|e| {
            model_error(
                path,
                &format!("the model does not accept input {shape:?}"),
                e,
            )
        })?;
    let out = typed
        .output_fact(0)
        .map_err(|e| model_error(path, "reading the output", e))?;
    let dims = out.shape.as_concrete().ok_or_else(|| {
        Error::msg(format!(
            "{}: the output shape {:?} is not fixed for a fixed input",
            path.display(),
            out.shape
        ))
    })?;
    if dims.first() != Some(&batch) {
        return Err(Error::msg(format!(
            "{}: the output shape {dims:?} does not start with the batch of {batch}",
            path.display()
        )));
    }
    let classes: usize = dims[1..].iter().product();
    if classes == 0 {
        return Err(Error::msg(format!(
            "{}: the model scores no classes (output shape {dims:?})",
            path.display()
        )));
    }
    let plan = channels_last(typed)
        .into_optimized()
        .and_then(|m| m.into_runnable())
        .map_err(|e| model_error(path, "cannot optimize the model", e))?;
    Ok((plan, classes))
}

/// The model with its convolutions run channel-last (tract's `conv_nhwc` transform), or as it
/// is when the transform does not apply.
///
/// ONNX convolutions are NCHW, and tract computes a depthwise convolution on NCHW data one
/// channel plane at a time, walking the border zones of every 7x7 or 14x14 plane apart: on the
/// EfficientNet-Lites that, and packing each pointwise convolution's input, took most of the
/// inference time. Channel-last, a depthwise tap is one run over all channels, and the pointwise
/// convolutions read their input as it lies; the moves between layouts cancel between
/// consecutive convolutions when the model is optimized, so only the input is transposed once.
/// Single-core CPU time per image (EfficientNet-Lite0/1/2 on the 20 labelled photos): 30.8,
/// 49.5, 58.7 ms before, 22.4, 37.0, 42.7 ms after, with the same top-5. Only the order of
/// floating-point sums changes, so scores move in the last digits.
fn channels_last(typed: TypedModel) -> TypedModel {
    let Ok(Some(transform)) = tract_onnx::tract_core::transform::get_transform("conv_nhwc") else {
        return typed;
    };
    let Ok(mut nhwc) = typed.clone().into_decluttered() else {
        return typed;
    };
    match transform.transform(&mut nhwc) {
        Ok(()) => nhwc,
        Err(_) => typed,
    }
}

/// The `k` best classes as (output index, probability), best first; ties go to the lower index.
/// Raw outputs go through a softmax, unless they already are probabilities (non-negative and
/// summing to 1: a model exported with its softmax).
pub fn top_k(outputs: &[f32], k: usize) -> Vec<(usize, f64)> {
    let sum: f64 = outputs.iter().map(|&v| f64::from(v)).sum();
    let probabilities =
        outputs.iter().all(|&v| (0.0..=1.0).contains(&v)) && (sum - 1.0).abs() < 1e-3;
    let p: Vec<f64> = if probabilities {
        outputs.iter().map(|&v| f64::from(v)).collect()
    } else {
        let max = f64::from(outputs.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        let e: Vec<f64> = outputs
            .iter()
            .map(|&v| (f64::from(v) - max).exp())
            .collect();
        let total: f64 = e.iter().sum();
        e.into_iter().map(|v| v / total).collect()
    };
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_finite()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    order.into_iter().take(k).map(|i| (i, p[i])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_top_k() {
        let t = top_k(&[1.0, 3.0, 2.0, 3.0], 3);
        assert_eq!(t.iter().map(|x| x.0).collect::<Vec<_>>(), [1, 3, 2]);
        let e = [1f64.exp(), 3f64.exp(), 2f64.exp(), 3f64.exp()];
        let s: f64 = e.iter().sum();
        assert!((t[0].1 - e[1] / s).abs() < 1e-12);
        assert!((t[2].1 - e[2] / s).abs() < 1e-12);
        // Already probabilities: kept as they are.
        let t = top_k(&[0.1, 0.7, 0.2], 2);
        assert_eq!(t.iter().map(|x| x.0).collect::<Vec<_>>(), [1, 2]);
        assert!((t[0].1 - 0.7).abs() < 1e-6);
        assert_eq!(top_k(&[0.5, 0.5], 5).len(), 2);
    }

    /// The kernel (`[c, 1, kernel, kernel]`) and bias of `depthwise_model`.
    fn depthwise_weights(c: usize, kernel: usize) -> (Vec<f32>, Vec<f32>) {
        let k = (0..c * kernel * kernel)
            .map(|i| (i as f32 * 0.37).sin() * 0.5)
            .collect();
        let b = (0..c).map(|i| i as f32 * 0.01 - 0.1).collect();
        (k, b)
    }

    /// A model of one NCHW depthwise convolution, as ONNX's are after loading.
    fn depthwise_model(
        shape: [usize; 4],
        kernel: usize,
        stride: usize,
        padding: tract_onnx::tract_core::ops::cnn::PaddingSpec,
    ) -> TypedModel {
        use tract_onnx::tract_core::ops::cnn::PoolSpec;
        use tract_onnx::tract_core::ops::cnn::conv::{Conv, KernelFormat};
        use tract_onnx::tract_core::ops::nn::DataFormat;
        let c = shape[1];
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact(shape)).unwrap();
        let (k, b) = depthwise_weights(c, kernel);
        let k = model
            .add_const(
                "k",
                Tensor::from_shape(&[c, 1, kernel, kernel], &k).unwrap(),
            )
            .unwrap();
        let b = model
            .add_const("b", Tensor::from_shape(&[c], &b).unwrap())
            .unwrap();
        let conv = Conv {
            pool_spec: PoolSpec {
                data_format: DataFormat::NCHW,
                kernel_shape: tvec!(kernel, kernel),
                padding,
                dilations: None,
                strides: Some(tvec!(stride, stride)),
                input_channels: c,
                output_channels: c,
            },
            kernel_fmt: KernelFormat::OIHW,
            group: c,
            q_params: None,
        };
        let y = model.wire_node("dw", conv, &[x, k, b]).unwrap();
        model.select_output_outlets(&y).unwrap();
        model
    }

    /// A depthwise convolution run channel-last, as `build` runs it (through the vector kernel
    /// of `depthwise.rs` on x86-64), gives what the direct sum gives, over odd channel counts,
    /// strides, padding and batches; and the same to rounding as tract's NCHW path.
    #[test]
    fn depthwise_channels_last_is_right() {
        use tract_onnx::tract_core::ops::cnn::PaddingSpec;
        let cases = [
            ([1, 19, 9, 9], 3, 1, PaddingSpec::SameUpper),
            ([1, 40, 14, 14], 5, 2, PaddingSpec::SameUpper),
            ([1, 144, 7, 7], 3, 1, PaddingSpec::SameUpper),
            (
                [2, 7, 8, 11],
                3,
                2,
                PaddingSpec::Explicit(tvec!(1, 0), tvec!(0, 1)),
            ),
            ([1, 33, 7, 7], 5, 1, PaddingSpec::Valid),
        ];
        let run = |model: TypedModel, input: &Tensor| -> Vec<f32> {
            let plan = model.into_optimized().unwrap().into_runnable().unwrap();
            let out = plan.run(tvec!(input.clone().into_tvalue())).unwrap();
            out[0]
                .to_plain_array_view::<f32>()
                .unwrap()
                .iter()
                .copied()
                .collect()
        };
        for (shape, kernel, stride, padding) in cases {
            let [n, c, h, w] = shape;
            let data: Vec<f32> = (0..n * c * h * w)
                .map(|i| (i as f32 * 0.113).cos())
                .collect();
            let input = Tensor::from_shape(&shape, &data).unwrap();
            let model = depthwise_model(shape, kernel, stride, padding.clone());
            let nhwc = channels_last(model.clone());
            assert!(
                nhwc.nodes().iter().any(|n| n.op.name() == "DepthWiseConv"),
                "{shape:?}: not lowered to tract's depthwise op"
            );
            let ours = run(nhwc, &input);
            let nchw = run(model.clone(), &input);
            // The direct sum, in f64, from the model's kernel and bias.
            let (k, b) = depthwise_weights(c, kernel);
            let out_shape = model
                .outlet_fact(model.outputs[0])
                .unwrap()
                .shape
                .as_concrete()
                .unwrap()
                .to_vec();
            let (oh, ow) = (out_shape[2], out_shape[3]);
            // Padding before the data on spatial axis `axis` (SameUpper puts the odd one after).
            let pad = |axis: usize, len: usize, out: usize| -> usize {
                match &padding {
                    PaddingSpec::Valid => 0,
                    PaddingSpec::Explicit(before, _) => before[axis],
                    _ => ((out - 1) * stride + kernel).saturating_sub(len) / 2,
                }
            };
            let (ph, pw) = (pad(0, h, oh), pad(1, w, ow));
            assert_eq!(ours.len(), n * c * oh * ow, "{shape:?}");
            for ni in 0..n {
                for ci in 0..c {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let mut want = f64::from(b[ci]);
                            for ky in 0..kernel {
                                for kx in 0..kernel {
                                    let (iy, ix) = (oy * stride + ky, ox * stride + kx);
                                    if iy < ph || ix < pw || iy - ph >= h || ix - pw >= w {
                                        continue;
                                    }
                                    want += f64::from(k[(ci * kernel + ky) * kernel + kx])
                                        * f64::from(
                                            data[((ni * c + ci) * h + iy - ph) * w + ix - pw],
                                        );
                                }
                            }
                            let at = ((ni * c + ci) * oh + oy) * ow + ox;
                            assert!(
                                (f64::from(ours[at]) - want).abs() < 1e-5,
                                "{shape:?} at {ni},{ci},{oy},{ox}: {} vs {want}",
                                ours[at]
                            );
                            assert!((ours[at] - nchw[at]).abs() < 1e-5);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn layouts_and_sizes() {
        let p = Path::new("m.onnx");
        assert_eq!(
            input_layout(p, &[Some(1), Some(3), Some(224), Some(224)]).unwrap(),
            (Layout::Nchw, Some(224))
        );
        assert_eq!(
            input_layout(p, &[None, Some(240), Some(240), Some(3)]).unwrap(),
            (Layout::Nhwc, Some(240))
        );
        assert_eq!(
            input_layout(p, &[None, Some(3), None, None]).unwrap(),
            (Layout::Nchw, None)
        );
        let e = input_layout(p, &[Some(1), Some(3), Some(224), Some(200)]).unwrap_err();
        assert!(e.to_string().contains("not square"), "{e}");
        let e = input_layout(p, &[Some(1), Some(1000)]).unwrap_err();
        assert!(e.to_string().contains("2 axes"), "{e}");
        let e = input_layout(p, &[Some(1), Some(4), Some(9), Some(9)]).unwrap_err();
        assert!(e.to_string().contains("colour channels"), "{e}");
    }
}
