// hwgen kernel library: matrix-vector-activation unit (MVAU).
//
// Computes, for every input vector x (MW elements) of every frame, the MH outputs
//   acc[r] = sum_c W[r][c] * x[c]
//   y[r]   = NT ? OUT_MIN + #{k : acc[r] >= T[r][k]} : acc[r]   (bipolar out: the bit acc >= T)
// Folding: SIMD input elements and PE output channels per cycle, one pipelined loop of
// VECTORS * (MH/PE) * (MW/SIMD) iterations per frame at II=1. Each input word is read from the
// stream during the first neuron fold and replayed from a buffer during the others.
//
// TI, TW, TACC, TO are element traits (hwgen_types.hpp); TWS, TTS the parameter storage types;
// DSP puts the products on DSP slices (else LUTs). Layouts (written by hwgen.codegen): one
// memory word per tile, weights[nf*SF + sf][p*SIMD + s] holds W[nf*PE + p][sf*SIMD + s] as codes
// of TW; thresholds[p][nf][k] holds T[nf*PE + p][k].
#ifndef HWGEN_MVAU_HPP
#define HWGEN_MVAU_HPP

#include <hls_stream.h>

#include "hwgen_types.hpp"
#ifdef HWGEN_FAST_CSIM
#include <algorithm>
#include <type_traits>
#include <vector>
#endif

namespace hwgen {

#ifdef HWGEN_FAST_CSIM
// Plain C++ model of the same computation (C-sim only; see hwgen_types.hpp).
template <typename TACC, typename TO, unsigned NT, int OUT_MIN, typename TTS>
inline unsigned long long activation_code(long long acc, const TTS* thresholds, const char* name) {
    if (acc < TACC::min || acc > TACC::max) hwgen_overflow(name);
    if (NT == 0) return (unsigned long long)acc;
    // thresholds ascend: the number crossed (acc >= T[k]) is the upper bound's position
    long long crossed = std::upper_bound(thresholds, thresholds + NT, acc,
                                         [](long long a, TTS t) { return a < (long long)t; }) - thresholds;
    return (unsigned long long)(crossed + OUT_MIN);
}

template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned VECTORS,
          typename TI, typename TW, typename TACC, typename TO, unsigned NT, int OUT_MIN,
          typename TWS, typename TTS>
void mvau_fast(hls::stream<ap_uint<SIMD * TI::width> >& in, hls::stream<ap_uint<PE * TO::width> >& out,
               const TWS weights[(MH / PE) * (MW / SIMD)][PE * SIMD], const TTS thresholds[PE][MH / PE][NT ? NT : 1],
               unsigned frames, const char* name) {
    const unsigned SF = MW / SIMD, NF = MH / PE;
    // Narrow accumulators compute in int (vectorizes); -fwrapv makes partial sums wrap, and the final
    // sum, which fits the accumulator type, comes out exact. Wider ones compute in long long.
    typedef typename std::conditional<(TACC::width <= 24), int, long long>::type num_t;
    static std::vector<num_t> w;  // weights as values, row-major MH x MW, decoded once
    static const void* decoded_from = 0;
    if (decoded_from != (const void*)weights) {
        w.assign((size_t)MH * MW, 0);
        for (unsigned t = 0; t < NF * SF; t++)
            for (unsigned p = 0; p < PE; p++)
                for (unsigned s = 0; s < SIMD; s++)
                    w[(size_t)((t / SF) * PE + p) * MW + (t % SF) * SIMD + s] =
                        TW::native((unsigned long long)weights[t][p * SIMD + s] & code_mask<TW::width>());
        decoded_from = (const void*)weights;
    }
    HWGEN_PROBE(probe, name);
    probe.skip((unsigned long long)frames * VECTORS * NF * SF);
    std::vector<num_t> x(MW);
    unsigned long long codes[SIMD];
    for (unsigned long long v = 0; v < (unsigned long long)frames * VECTORS; v++) {
        for (unsigned sf = 0; sf < SF; sf++) {
            unpack_codes<TI::width, SIMD>(in.read(), codes);
            for (unsigned s = 0; s < SIMD; s++) x[sf * SIMD + s] = TI::native(codes[s]);
        }
        for (unsigned nf = 0; nf < NF; nf++) {
            ap_uint<PE * TO::width> y = 0;
            for (unsigned p = 0; p < PE; p++) {
                const num_t* row = &w[(size_t)(nf * PE + p) * MW];
                num_t acc = 0;
                for (unsigned c = 0; c < MW; c++) acc += row[c] * x[c];
                y((p + 1) * TO::width - 1, p * TO::width) =
                    activation_code<TACC, TO, NT, OUT_MIN>(acc, thresholds[p][nf], name) & code_mask<TO::width>();
            }
            out.write(y);
        }
    }
}
#endif

// TO's code for an accumulator value; OUT_MIN is the code of "no threshold crossed".
template <typename TACC, typename TO, unsigned NT, int OUT_MIN>
struct Activation {  // multi-threshold activation
    template <typename TT>
    static ap_uint<TO::width> apply(typename TACC::value_t acc, const TT* thresholds) {
#pragma HLS INLINE
        ap_uint<16> crossed = 0;
        for (unsigned k = 0; k < NT; k++) {
#pragma HLS UNROLL
            crossed += acc >= thresholds[k] ? 1 : 0;
        }
        return ap_uint<TO::width>(ap_int<TO::width + 17>(crossed) + OUT_MIN);
    }
};

template <typename TACC, typename TO, int OUT_MIN>
struct Activation<TACC, TO, 0, OUT_MIN> {  // no activation: stream the accumulator
    template <typename TT>
    static ap_uint<TO::width> apply(typename TACC::value_t acc, const TT*) {
#pragma HLS INLINE
        return ap_uint<TO::width>(acc);
    }
};

template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned VECTORS,
          typename TI, typename TW, typename TACC, typename TO, unsigned NT, int OUT_MIN, bool DSP,
          typename TWS, typename TTS>
void mvau(hls::stream<ap_uint<SIMD * TI::width> >& in, hls::stream<ap_uint<PE * TO::width> >& out,
          const TWS weights[(MH / PE) * (MW / SIMD)][PE * SIMD], const TTS thresholds[PE][MH / PE][NT ? NT : 1],
          unsigned frames, const char* name) {
    static_assert(MW % SIMD == 0, "MVAU: SIMD must divide MW");
    static_assert(MH % PE == 0, "MVAU: PE must divide MH");
    static_assert(!(DSP && IsBipolar<TI>::value && IsBipolar<TW>::value), "MVAU: XNOR products have no multiplier to put on a DSP");
#ifdef HWGEN_FAST_CSIM
    mvau_fast<MW, MH, SIMD, PE, VECTORS, TI, TW, TACC, TO, NT, OUT_MIN>(in, out, weights, thresholds, frames, name);
    return;
#endif
    const unsigned SF = MW / SIMD, NF = MH / PE;
    typedef ap_uint<SIMD * TI::width> in_word_t;
    typedef typename TACC::value_t acc_t;  // wraps modulo 2^width: exact, as the final sum fits

    in_word_t buffer[SF];
    acc_t acc[PE];
#pragma HLS ARRAY_PARTITION variable = acc complete
    unsigned sf = 0, nf = 0;
    const unsigned long long PER_FRAME = (unsigned long long)VECTORS * NF * SF;  // loop iterations per frame
    const unsigned long long total = frames * PER_FRAME;
    HWGEN_PROBE(probe, name);
    for (unsigned long long i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = PER_FRAME avg = PER_FRAME max = PER_FRAME
        in_word_t x;
        if (nf == 0) {
            x = HWGEN_READ(probe, in);
            buffer[sf] = x;
        } else {
            x = buffer[sf];
        }
        ap_uint<TI::width> xs[SIMD];  // the word's elements, cut once for all PE lanes
#pragma HLS ARRAY_PARTITION variable = xs complete
        for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
            xs[s] = element<TI::width>(x, s);
        }
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            acc_t sum = sf == 0 ? acc_t(0) : acc[p];
            for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
                ap_uint<TW::width> w = weights[nf * SF + sf][p * SIMD + s];
                sum += Mul<TI, TW, DSP>::apply(xs[s], w);
            }
            acc[p] = sum;
        }
        if (++sf == SF) {
            ap_uint<PE * TO::width> y;
            for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
                y((p + 1) * TO::width - 1, p * TO::width) =
                    Activation<TACC, TO, NT, OUT_MIN>::apply(acc[p], thresholds[p][nf]);
            }
            HWGEN_WRITE(probe, out, y);
            sf = 0;
            if (++nf == NF) nf = 0;
        }
        HWGEN_NEXT(probe);
    }
}

}  // namespace hwgen

#endif
