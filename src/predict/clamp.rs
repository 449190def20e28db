//! x86-64 vector kernels for tract's `max(x, s)` and `min(x, s)` of a tensor and a scalar: the
//! two halves of every ReLU6 (`Clip(0, 6)`) that cannot be folded into a matrix product, such as
//! the ones after EfficientNet-Lite's depthwise convolutions.
//!
//! tract 0.23 has no x86-64 kernel for these: it runs a generic loop compiled for the baseline
//! instruction set (SSE2, four floats at a time). Like `depthwise.rs`, this module declares its
//! kernels in tract's registry, so tract's own ops call them. They compute exactly what the
//! generic loop computes, `f32::max`/`f32::min` as the compiler lowers them on x86-64: when `x` is
//! NaN the result is `s`, otherwise the vector `max(s, x)`/`min(s, x)` instruction, which gives
//! `x` when `s` is NaN and when both are zeros (of either sign). Eight floats at a time (AVX),
//! or the same scalar loop on a CPU without AVX.

use tract_onnx::prelude::TractResult;
use tract_onnx::tract_core::internal::TensorView;

/// The names tract's registry knows the kernels by.
pub const MAX_NAME: &str = "labelvet_by_scalar_max_f32";
pub const MIN_NAME: &str = "labelvet_by_scalar_min_f32";

#[cfg(target_arch = "x86_64")]
inventory::submit! {
    tract_linalg::routines::Routine {
        func: tract_linalg::routines::Func::BinByScalar(tract_linalg::BinOp::Max),
        arch: Some(tract_linalg::isa::Arch::X86_64),
        isa: tract_linalg::isa::IsaReq::ANY,
        boost: 0,
        round_trip: false,
        factory: tract_linalg::routines::RoutineFactory::BinF32 {
            name: max_name,
            make: make_max,
        },
    }
}

#[cfg(target_arch = "x86_64")]
inventory::submit! {
    tract_linalg::routines::Routine {
        func: tract_linalg::routines::Func::BinByScalar(tract_linalg::BinOp::Min),
        arch: Some(tract_linalg::isa::Arch::X86_64),
        isa: tract_linalg::isa::IsaReq::ANY,
        boost: 0,
        round_trip: false,
        factory: tract_linalg::routines::RoutineFactory::BinF32 {
            name: min_name,
            make: make_min,
        },
    }
}

fn max_name() -> &'static str {
    MAX_NAME
}

fn min_name() -> &'static str {
    MIN_NAME
}

fn make_max() -> Box<tract_linalg::BinFn> {
    Box::new(|a: &mut TensorView, b: &TensorView| by_scalar(a, b, max_f32))
}

fn make_min() -> Box<tract_linalg::BinFn> {
    Box::new(|a: &mut TensorView, b: &TensorView| by_scalar(a, b, min_f32))
}

/// tract's by-scalar contract: `a` in place, with `b`'s first value.
fn by_scalar(a: &mut TensorView, b: &TensorView, f: fn(&mut [f32], f32)) -> TractResult<()> {
    let s = b.as_slice::<f32>()?[0];
    f(a.as_slice_mut::<f32>()?, s);
    Ok(())
}

/// Whether tract runs these kernels for f32 `max`/`min` by a scalar here.
pub fn in_use() -> bool {
    use tract_linalg::routines::{Func, best_for};
    let isa = tract_linalg::isa::native();
    let f32 = tract_onnx::prelude::DatumType::F32;
    cfg!(target_arch = "x86_64")
        && best_for(Func::BinByScalar(tract_linalg::BinOp::Max), f32, &isa)
            .is_some_and(|r| r.name() == MAX_NAME)
        && best_for(Func::BinByScalar(tract_linalg::BinOp::Min), f32, &isa)
            .is_some_and(|r| r.name() == MIN_NAME)
}

/// `x = x.max(s)` for every `x`.
pub fn max_f32(x: &mut [f32], s: f32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU has AVX.
        return unsafe { avx::<true>(x, s) };
    }
    x.iter_mut().for_each(|v| *v = v.max(s));
}

/// `x = x.min(s)` for every `x`.
pub fn min_f32(x: &mut [f32], s: f32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU has AVX.
        return unsafe { avx::<false>(x, s) };
    }
    x.iter_mut().for_each(|v| *v = v.min(s));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn avx<const MAX: bool>(x: &mut [f32], s: f32) {
    use std::arch::x86_64::*;
    let sv = _mm256_set1_ps(s);
    let one = |v: __m256| {
        let m = if MAX {
            _mm256_max_ps(sv, v)
        } else {
            _mm256_min_ps(sv, v)
        };
        _mm256_blendv_ps(m, sv, _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v))
    };
    let mut blocks = x.chunks_exact_mut(32);
    for b in &mut blocks {
        let p = b.as_mut_ptr();
        // SAFETY: `b` holds 32 floats.
        unsafe {
            let (v0, v1) = (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)));
            let (v2, v3) = (_mm256_loadu_ps(p.add(16)), _mm256_loadu_ps(p.add(24)));
            _mm256_storeu_ps(p, one(v0));
            _mm256_storeu_ps(p.add(8), one(v1));
            _mm256_storeu_ps(p.add(16), one(v2));
            _mm256_storeu_ps(p.add(24), one(v3));
        }
    }
    let mut rest = blocks.into_remainder().chunks_exact_mut(8);
    for b in &mut rest {
        // SAFETY: `b` holds 8 floats.
        unsafe { _mm256_storeu_ps(b.as_mut_ptr(), one(_mm256_loadu_ps(b.as_ptr()))) };
    }
    for v in rest.into_remainder() {
        *v = if MAX { v.max(s) } else { v.min(s) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::prelude::*;

    /// Values that tell the orders apart: NaNs, both zeros, infinities, around 0 and 6.
    fn awkward() -> Vec<f32> {
        let mut v = vec![
            f32::NAN,
            -f32::NAN,
            0.0,
            -0.0,
            6.0,
            -6.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            1e-45,
            -1e-45,
            5.999_999_5,
            6.000_000_5,
        ];
        let mut seed = 11u32;
        while v.len() < 203 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            v.push(((seed >> 8) as f32 / (1 << 24) as f32 - 0.4) * 16.0);
            if seed.is_multiple_of(7) {
                v.push(0.0);
                v.push(-0.0);
                v.push(f32::NAN);
            }
        }
        v
    }

    /// tract's own kernel for `func` (not this module's), run through its binary interface.
    fn tracts(func: tract_linalg::routines::Func, x: &[f32], s: f32) -> Vec<f32> {
        let r = inventory::iter::<tract_linalg::routines::Routine>
            .into_iter()
            .find(|r| r.func == func && r.arch.is_none() && r.dt() == DatumType::F32)
            .expect("tract has a generic kernel");
        let tract_linalg::routines::RoutineFactory::BinF32 { make, .. } = r.factory else {
            panic!("not a binary kernel");
        };
        let mut a = tensor1(x);
        let b = tensor1(&[s]);
        make()(&mut a.view_mut(), &b.view()).unwrap();
        a.to_plain_array_view::<f32>()
            .unwrap()
            .iter()
            .copied()
            .collect()
    }

    #[test]
    fn kernels_match_tracts_generic_loop_bit_for_bit() {
        use tract_linalg::BinOp::{Max, Min};
        use tract_linalg::routines::Func::BinByScalar;
        let x = awkward();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for s in [0.0f32, -0.0, 6.0, -1.5, f32::NAN, f32::INFINITY] {
            for len in [0, 1, 7, 8, 31, 32, 33, 95, x.len()] {
                let x = &x[x.len() - len..];
                for (func, f) in [
                    (BinByScalar(Max), max_f32 as fn(&mut [f32], f32)),
                    (BinByScalar(Min), min_f32),
                ] {
                    let want = tracts(func, x, s);
                    let mut got = x.to_vec();
                    f(&mut got, s);
                    assert_eq!(bits(&got), bits(&want), "{func:?}, s = {s}, {len} values");
                    let plain: Vec<f32> = x
                        .iter()
                        .map(|&v| {
                            let (v, s) = std::hint::black_box((v, s));
                            if func == BinByScalar(Max) {
                                v.max(s)
                            } else {
                                v.min(s)
                            }
                        })
                        .collect();
                    assert_eq!(bits(&plain), bits(&want), "f32::max/min, {func:?}, s = {s}");
                }
            }
        }
    }

    /// tract's registry picks these kernels on x86-64.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn tract_runs_them() {
        assert!(in_use(), "tract's by-scalar max/min are not ours");
    }
}
