//! A channel-last depthwise convolution kernel for x86-64 that uses the CPU's vector units,
//! given to tract as its `depthwise_c` routine.
//!
//! With the convolutions channel-last (`model::channels_last`), tract runs a depthwise
//! convolution as a walk over the output positions that calls one kernel per run of positions:
//! "bias, plus every tap's kernel vector times its input vector", over all channels at once.
//! tract 0.23 ships that kernel for aarch64 and wasm only; on x86-64 it falls back to a generic
//! loop compiled for the baseline instruction set (SSE2, four floats at a time, the sums stored
//! back to memory after every tap), which was 18% of EfficientNet-Lite0's time.
//!
//! tract picks its kernels from a registry that any crate linked in can add to (the `inventory`
//! crate), so this one is declared there, for x86-64, and tract's own depthwise op calls it: the
//! graph, the zone walk over the padded borders and every other op stay tract's. It computes the
//! generic loop's sums in the generic loop's order -- the bias, then each tap's `k * x` added in
//! tap order, a multiplication and an addition, never fused -- so its output is bit for bit what
//! tract computed before; it only keeps 64 channels (AVX-512) or 32 (AVX2) in registers across
//! the taps. Which of the two runs is decided at run time; a CPU with neither runs the same sums
//! one channel at a time.

/// The name tract's registry knows the kernel by.
pub const NAME: &str = "labelvet_depthwise_c_f32";

#[cfg(target_arch = "x86_64")]
inventory::submit! {
    tract_linalg::routines::Routine {
        func: tract_linalg::routines::Func::DepthwiseC,
        arch: Some(tract_linalg::isa::Arch::X86_64),
        isa: tract_linalg::isa::IsaReq::ANY,
        boost: 0,
        round_trip: false,
        factory: tract_linalg::routines::RoutineFactory::DepthwiseCF32 {
            name: NAME,
            run: depthwise_c_f32,
        },
    }
}

/// Whether tract runs this kernel for its channel-last depthwise convolutions here. Calling it
/// also keeps this module (and so the registration above) in every binary that loads a model.
pub fn in_use() -> bool {
    cfg!(target_arch = "x86_64")
        && tract_linalg::routines::best_for(
            tract_linalg::routines::Func::DepthwiseC,
            tract_onnx::prelude::DatumType::F32,
            &tract_linalg::isa::native(),
        )
        .is_some_and(|r| r.name() == NAME)
}

/// tract's `DepthwiseCF32` contract: `len` output positions of `channels` channels each. Point
/// `i`, channel `c`, is `bias[c]` plus every `kernel[tap_indices[t] * k_stride + c] *
/// input[i * in_stride + offsets[t] + c]`, written at `output[i * out_stride + c]`.
///
/// # Safety
/// As tract's: `input.offset(i * in_stride + offsets[t] + c)` and
/// `kernel.add(tap_indices[t] * k_stride + c)` readable for every tap, every `i < len` and every
/// `c < channels`; `channels` values readable from `bias` and writable from
/// `output.offset(i * out_stride)` for every `i < len`; `tap_indices` and `offsets` of one
/// length.
#[allow(clippy::too_many_arguments)]
pub unsafe fn depthwise_c_f32(
    input: *const f32,
    output: *mut f32,
    kernel: *const f32,
    tap_indices: &[usize],
    offsets: &[isize],
    bias: *const f32,
    channels: usize,
    k_stride: usize,
    len: usize,
    in_stride: isize,
    out_stride: isize,
) {
    let taps = tap_indices.len().min(offsets.len());
    let (tap_indices, offsets) = (&tap_indices[..taps], &offsets[..taps]);
    let args = Args {
        input,
        output,
        kernel,
        tap_indices,
        offsets,
        bias,
        channels,
        k_stride,
        len,
        in_stride,
        out_stride,
    };
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F; the pointers are the caller's promise.
            return unsafe { avx512(&args) };
        }
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX; the pointers are the caller's promise.
            return unsafe { avx(&args) };
        }
    }
    // SAFETY: the pointers are the caller's promise.
    unsafe { scalar(&args, 0) }
}

struct Args<'a> {
    input: *const f32,
    output: *mut f32,
    kernel: *const f32,
    tap_indices: &'a [usize],
    offsets: &'a [isize],
    bias: *const f32,
    channels: usize,
    k_stride: usize,
    len: usize,
    in_stride: isize,
    out_stride: isize,
}

/// Channels `from..` of every position, one at a time: the generic loop's arithmetic.
unsafe fn scalar(a: &Args, from: usize) {
    unsafe {
        for i in 0..a.len as isize {
            let x = a.input.offset(i * a.in_stride);
            let o = a.output.offset(i * a.out_stride);
            for c in from..a.channels {
                let mut sum = *a.bias.add(c);
                for (&kix, &off) in a.tap_indices.iter().zip(a.offsets) {
                    sum += *a.kernel.add(kix * a.k_stride + c) * *x.offset(off).add(c);
                }
                *o.add(c) = sum;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512(a: &Args) {
    use std::arch::x86_64::*;
    unsafe {
        for i in 0..a.len as isize {
            let x = a.input.offset(i * a.in_stride);
            let o = a.output.offset(i * a.out_stride);
            let mut c = 0usize;
            while c + 64 <= a.channels {
                let b = a.bias.add(c);
                let mut s0 = _mm512_loadu_ps(b);
                let mut s1 = _mm512_loadu_ps(b.add(16));
                let mut s2 = _mm512_loadu_ps(b.add(32));
                let mut s3 = _mm512_loadu_ps(b.add(48));
                for (&kix, &off) in a.tap_indices.iter().zip(a.offsets) {
                    let k = a.kernel.add(kix * a.k_stride + c);
                    let xs = x.offset(off).add(c);
                    s0 = _mm512_add_ps(s0, _mm512_mul_ps(_mm512_loadu_ps(k), _mm512_loadu_ps(xs)));
                    s1 = _mm512_add_ps(
                        s1,
                        _mm512_mul_ps(_mm512_loadu_ps(k.add(16)), _mm512_loadu_ps(xs.add(16))),
                    );
                    s2 = _mm512_add_ps(
                        s2,
                        _mm512_mul_ps(_mm512_loadu_ps(k.add(32)), _mm512_loadu_ps(xs.add(32))),
                    );
                    s3 = _mm512_add_ps(
                        s3,
                        _mm512_mul_ps(_mm512_loadu_ps(k.add(48)), _mm512_loadu_ps(xs.add(48))),
                    );
                }
                _mm512_storeu_ps(o.add(c), s0);
                _mm512_storeu_ps(o.add(c + 16), s1);
                _mm512_storeu_ps(o.add(c + 32), s2);
                _mm512_storeu_ps(o.add(c + 48), s3);
                c += 64;
            }
            while c < a.channels {
                // 16 channels, or the last few under a mask (masked-off lanes are neither read
                // nor written).
                let m: __mmask16 = if a.channels - c >= 16 {
                    0xffff
                } else {
                    (1u16 << (a.channels - c)) - 1
                };
                let mut s = _mm512_maskz_loadu_ps(m, a.bias.add(c));
                for (&kix, &off) in a.tap_indices.iter().zip(a.offsets) {
                    let k = _mm512_maskz_loadu_ps(m, a.kernel.add(kix * a.k_stride + c));
                    let xs = _mm512_maskz_loadu_ps(m, x.offset(off).add(c));
                    s = _mm512_add_ps(s, _mm512_mul_ps(k, xs));
                }
                _mm512_mask_storeu_ps(o.add(c), m, s);
                c += 16;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn avx(a: &Args) {
    use std::arch::x86_64::*;
    // Two positions at a time: each tap's kernel vectors are loaded once for both, and the
    // eight running sums are eight chains of additions in flight instead of four. Loads, not
    // arithmetic, bound this loop (two per multiplication), so a quarter fewer is time saved.
    let pairs = a.len / 2;
    unsafe {
        let mut c = 0usize;
        while c + 32 <= a.channels {
            let b = a.bias.add(c);
            for p in 0..pairs as isize {
                let x = a.input.offset(2 * p * a.in_stride);
                let y = x.offset(a.in_stride);
                let mut s0 = _mm256_loadu_ps(b);
                let mut s1 = _mm256_loadu_ps(b.add(8));
                let mut s2 = _mm256_loadu_ps(b.add(16));
                let mut s3 = _mm256_loadu_ps(b.add(24));
                let (mut t0, mut t1, mut t2, mut t3) = (s0, s1, s2, s3);
                for (&kix, &off) in a.tap_indices.iter().zip(a.offsets) {
                    let k = a.kernel.add(kix * a.k_stride + c);
                    let (k0, k1, k2, k3) = (
                        _mm256_loadu_ps(k),
                        _mm256_loadu_ps(k.add(8)),
                        _mm256_loadu_ps(k.add(16)),
                        _mm256_loadu_ps(k.add(24)),
                    );
                    let xs = x.offset(off).add(c);
                    let ys = y.offset(off).add(c);
                    s0 = _mm256_add_ps(s0, _mm256_mul_ps(k0, _mm256_loadu_ps(xs)));
                    t0 = _mm256_add_ps(t0, _mm256_mul_ps(k0, _mm256_loadu_ps(ys)));
                    s1 = _mm256_add_ps(s1, _mm256_mul_ps(k1, _mm256_loadu_ps(xs.add(8))));
                    t1 = _mm256_add_ps(t1, _mm256_mul_ps(k1, _mm256_loadu_ps(ys.add(8))));
                    s2 = _mm256_add_ps(s2, _mm256_mul_ps(k2, _mm256_loadu_ps(xs.add(16))));
                    t2 = _mm256_add_ps(t2, _mm256_mul_ps(k2, _mm256_loadu_ps(ys.add(16))));
                    s3 = _mm256_add_ps(s3, _mm256_mul_ps(k3, _mm256_loadu_ps(xs.add(24))));
                    t3 = _mm256_add_ps(t3, _mm256_mul_ps(k3, _mm256_loadu_ps(ys.add(24))));
                }
                let o = a.output.offset(2 * p * a.out_stride).add(c);
                let q = o.offset(a.out_stride);
                _mm256_storeu_ps(o, s0);
                _mm256_storeu_ps(o.add(8), s1);
                _mm256_storeu_ps(o.add(16), s2);
                _mm256_storeu_ps(o.add(24), s3);
                _mm256_storeu_ps(q, t0);
                _mm256_storeu_ps(q.add(8), t1);
                _mm256_storeu_ps(q.add(16), t2);
                _mm256_storeu_ps(q.add(24), t3);
            }
            if a.len % 2 == 1 {
                let i = a.len as isize - 1;
                let x = a.input.offset(i * a.in_stride);
                let o = a.output.offset(i * a.out_stride);
                let mut s0 = _mm256_loadu_ps(b);
                let mut s1 = _mm256_loadu_ps(b.add(8));
                let mut s2 = _mm256_loadu_ps(b.add(16));
                let mut s3 = _mm256_loadu_ps(b.add(24));
                for (&kix, &off) in a.tap_indices.iter().zip(a.offsets) {
                    let k = a.kernel.add(kix * a.k_stride + c);
                    let xs = x.offset(off).add(c);
                    s0 = _mm256_add_ps(s0, _mm256_mul_ps(_mm256_loadu_ps(k), _mm256_loadu_ps(xs)));
                    s1 = _mm256_add_ps(
                        s1,
                        _mm256_mul_ps(_mm256_loadu_ps(k.add(8)), _mm256_loadu_ps(xs.add(8))),
                    );
                    s2 = _mm256_add_ps(
                        s2,
                        _mm256_mul_ps(_mm256_loadu_ps(k.add(16)), _mm256_loadu_ps(xs.add(16))),
                    );
                    s3 = _mm256_add_ps(
                        s3,
                        _mm256_mul_ps(_mm256_loadu_ps(k.add(24)), _mm256_loadu_ps(xs.add(24))),
                    );
                }
                _mm256_storeu_ps(o.add(c), s0);
                _mm256_storeu_ps(o.add(c + 8), s1);
                _mm256_storeu_ps(o.add(c + 16), s2);
                _mm256_storeu_ps(o.add(c + 24), s3);
            }
            c += 32;
        }
        while c + 8 <= a.channels {
            for i in 0..a.len as isize {
                let x = a.input.offset(i * a.in_stride);
                let o = a.output.offset(i * a.out_stride);
                let mut s = _mm256_loadu_ps(a.bias.add(c));
                for (&kix, &off) in a.tap_indices.iter().zip(a.offsets) {
                    let k = _mm256_loadu_ps(a.kernel.add(kix * a.k_stride + c));
                    let xs = _mm256_loadu_ps(x.offset(off).add(c));
                    s = _mm256_add_ps(s, _mm256_mul_ps(k, xs));
                }
                _mm256_storeu_ps(o.add(c), s);
            }
            c += 8;
        }
        if c < a.channels {
            scalar(a, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tract's generic channel-last loop, as written in tract-core 0.23.9
    /// (`eval_c_inner_generic`): the output set to the bias, then each tap added in order.
    #[allow(clippy::too_many_arguments)]
    fn generic(
        input: &[f32],
        kernel: &[f32],
        tap_indices: &[usize],
        offsets: &[isize],
        bias: &[f32],
        channels: usize,
        k_stride: usize,
        len: usize,
        in_stride: isize,
        out_stride: isize,
        base: isize,
        out: &mut [f32],
    ) {
        for i in 0..len as isize {
            let o = (i * out_stride) as usize;
            let out = &mut out[o..o + channels];
            out.copy_from_slice(&bias[..channels]);
            for (&kix, &off) in tap_indices.iter().zip(offsets) {
                let k = &kernel[kix * k_stride..][..channels];
                let x = &input[(base + i * in_stride + off) as usize..][..channels];
                for c in 0..channels {
                    out[c] += k[c] * x[c];
                }
            }
        }
    }

    fn values(n: usize, seed: f32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f32 + seed) * 0.7315).sin() * 1.7)
            .collect()
    }

    /// Every path (64/32-channel blocks, 16/8-channel blocks, masked and scalar tails) gives the
    /// generic loop's values bit for bit, on the CPU this runs on.
    #[test]
    fn kernel_matches_tracts_generic_loop() {
        for channels in [
            1, 3, 7, 8, 15, 16, 17, 31, 32, 40, 63, 64, 65, 96, 100, 144, 240,
        ] {
            for (taps, len) in [(9usize, 5usize), (4, 3), (25, 7), (1, 1), (6, 2)] {
                // Input: a 12-wide strip of positions, channel-last; taps at scattered
                // positions, some of them negative offsets from the centre.
                let k_stride = channels + 3;
                let in_stride = (2 * channels) as isize;
                let base = 6 * channels as isize;
                let input = values(40 * channels + 64, channels as f32);
                let kernel = values(30 * k_stride, 0.5);
                let bias = values(channels, 9.0);
                let tap_indices: Vec<usize> = (0..taps).map(|t| (t * 7) % 30).collect();
                let offsets: Vec<isize> = (0..taps)
                    .map(|t| ((t as isize % 5) - 2) * channels as isize)
                    .collect();
                let out_stride = (channels + 5) as isize;
                let mut want = vec![0f32; len * (channels + 5)];
                generic(
                    &input,
                    &kernel,
                    &tap_indices,
                    &offsets,
                    &bias,
                    channels,
                    k_stride,
                    len,
                    in_stride,
                    out_stride,
                    base,
                    &mut want,
                );
                let mut got = vec![0f32; len * (channels + 5)];
                unsafe {
                    depthwise_c_f32(
                        input.as_ptr().offset(base),
                        got.as_mut_ptr(),
                        kernel.as_ptr(),
                        &tap_indices,
                        &offsets,
                        bias.as_ptr(),
                        channels,
                        k_stride,
                        len,
                        in_stride,
                        out_stride,
                    )
                };
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&got),
                    bits(&want),
                    "{channels} channels, {taps} taps, {len} positions"
                );
                let mut scalar_out = vec![0f32; len * (channels + 5)];
                let args = Args {
                    input: unsafe { input.as_ptr().offset(base) },
                    output: scalar_out.as_mut_ptr(),
                    kernel: kernel.as_ptr(),
                    tap_indices: &tap_indices,
                    offsets: &offsets,
                    bias: bias.as_ptr(),
                    channels,
                    k_stride,
                    len,
                    in_stride,
                    out_stride,
                };
                unsafe { scalar(&args, 0) };
                assert_eq!(
                    bits(&scalar_out),
                    bits(&want),
                    "scalar, {channels} channels"
                );
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx") {
                    let mut avx_out = vec![0f32; len * (channels + 5)];
                    let args = Args {
                        output: avx_out.as_mut_ptr(),
                        ..args
                    };
                    unsafe { avx(&args) };
                    assert_eq!(bits(&avx_out), bits(&want), "AVX, {channels} channels");
                }
            }
        }
    }

    /// tract's registry picks this kernel on x86-64 (`model::tests` runs models through it).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn tract_runs_it() {
        assert!(in_use(), "tract's depthwise_c routine is not ours");
    }
}
