// hwgen kernel library: element types.
//
// A stream element type is a trait struct naming its width in bits (`width`), the HLS value
// type (`value_t`) and the parameter storage type (`store_t`). Bipolar elements are one bit
// (0 means -1, 1 means +1); their products are computed as XNOR.
//
// Parameters (weights, thresholds) are stored as `store_t`: the exact ap_int/ap_uint type in
// synthesis, a plain C integer of the same value in C simulation (`HWGEN_PARAM`), so that
// g++ compiles large constant tables as static data. Values are identical in both: the
// generator checks every value against the type's range.
#ifndef HWGEN_TYPES_HPP
#define HWGEN_TYPES_HPP

#include <ap_int.h>
#include <stdint.h>

#ifdef __SYNTHESIS__
#define HWGEN_PARAM(hls_type, c_type) hls_type
#else
#define HWGEN_PARAM(hls_type, c_type) c_type
#endif

namespace hwgen {

template <unsigned N>
struct Int {
    static const unsigned width = N;
    static const long long min = -(1LL << (N - 1)), max = (1LL << (N - 1)) - 1;
    static long long native(unsigned long long bits) {  // code -> value, plain C++
        return N < 64 && (bits >> (N - 1)) & 1 ? (long long)bits - (1LL << N) : (long long)bits;
    }
    typedef ap_int<N> value_t;
    static value_t decode(ap_uint<N> bits) { return value_t(bits); }
    static ap_uint<N> encode(value_t v) { return ap_uint<N>(v); }
};

template <unsigned N>
struct UInt {
    static const unsigned width = N;
    static const long long min = 0, max = N < 63 ? (1LL << N) - 1 : 0x7fffffffffffffffLL;
    static long long native(unsigned long long bits) { return (long long)bits; }
    typedef ap_uint<N> value_t;
    static value_t decode(ap_uint<N> bits) { return bits; }
    static ap_uint<N> encode(value_t v) { return v; }
};

struct Bipolar {
    static const unsigned width = 1;
    static const long long min = -1, max = 1;
    static long long native(unsigned long long bit) { return bit ? 1 : -1; }
    typedef ap_int<2> value_t;  // -1 or +1
    static value_t decode(ap_uint<1> bit) { return bit ? value_t(1) : value_t(-1); }
    static ap_uint<1> encode(value_t v) { return v > 0 ? 1 : 0; }
};

// Product of an input element and a weight, both given by their bit codes.
template <typename TI, typename TW>
struct Mul {
    typedef ap_int<TI::width + TW::width + 1> result_t;
    static result_t apply(ap_uint<TI::width> x, ap_uint<TW::width> w) {
        return result_t(TI::decode(x)) * result_t(TW::decode(w));
    }
};

template <>
struct Mul<Bipolar, Bipolar> {  // XNOR: +1 where the bits agree
    typedef ap_int<2> result_t;
    static result_t apply(ap_uint<1> x, ap_uint<1> w) { return x == w ? result_t(1) : result_t(-1); }
};

template <typename TW>
struct Mul<Bipolar, TW> {
    typedef ap_int<TW::width + 2> result_t;
    static result_t apply(ap_uint<1> x, ap_uint<TW::width> w) {
        result_t v = TW::decode(w);
        return x ? v : result_t(-v);
    }
};

template <typename TI>
struct Mul<TI, Bipolar> {
    typedef ap_int<TI::width + 2> result_t;
    static result_t apply(ap_uint<TI::width> x, ap_uint<1> w) {
        result_t v = TI::decode(x);
        return w ? v : result_t(-v);
    }
};

// Element j of a packed word.
template <unsigned W, int N>  // int: ap_uint's own parameter type, for deduction
inline ap_uint<W> element(const ap_uint<N>& word, unsigned j) {
#pragma HLS INLINE
    return word(j * W + W - 1, j * W);
}

// C simulation only: iteration counters (to check the cycle model against what the loops do),
// and the fast path. By default g++ C-sim runs each kernel's arithmetic in plain C++ integers
// (long long), which gives the same values as the ap_int arithmetic of synthesis as long as the
// accumulator fits its declared type: that is checked on every output (hwgen_overflow), so a
// too-narrow type fails the C-sim instead of passing silently. -DHWGEN_CSIM_EXACT compiles the
// synthesis arithmetic (ap_int, bit-accurate wrap-around) instead.
#ifndef __SYNTHESIS__
void hwgen_count(const char* layer, unsigned long long iterations);
void hwgen_overflow(const char* layer);
#define HWGEN_COUNT(layer, n) hwgen_count(layer, n)
#ifndef HWGEN_CSIM_EXACT
#define HWGEN_FAST_CSIM 1
#endif
#else
#define HWGEN_COUNT(layer, n)
#endif

template <unsigned W>
inline unsigned long long code_mask() { return W >= 64 ? ~0ULL : (1ULL << (W % 64)) - 1; }

// The COUNT codes of W bits packed in a word, as plain integers (C-sim fast path): the word is
// read in 64-bit chunks once, elements are cut from the chunks with shifts.
template <unsigned W, unsigned COUNT, int N>
inline void unpack_codes(const ap_uint<N>& word, unsigned long long* codes) {
    const unsigned CHUNKS = (N + 63) / 64;
    unsigned long long chunk[CHUNKS + 1];
    for (unsigned c = 0; c < CHUNKS; c++) chunk[c] = word((64 * c + 64 < N ? 64 * c + 64 : N) - 1, 64 * c).to_uint64();
    chunk[CHUNKS] = 0;
    for (unsigned j = 0; j < COUNT; j++) {
        const unsigned bit = j * W, c = bit / 64, off = bit % 64;
        unsigned long long v = chunk[c] >> off;
        if (off + W > 64) v |= chunk[c + 1] << (64 - off);
        codes[j] = v & code_mask<W>();
    }
}

}  // namespace hwgen

#endif
