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
//
// ap_uint is at most 1024 bits wide unless AP_INT_MAX_W is defined before ap_int.h is included:
// a design with wider stream words is compiled with -DAP_INT_MAX_W=4096 (the most Vitis HLS takes),
// which its top.hpp checks.
#ifndef HWGEN_TYPES_HPP
#define HWGEN_TYPES_HPP

#include <ap_int.h>
#include <hls_stream.h>
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

template <typename T>
struct IsBipolar {
    static const bool value = false;
};
template <>
struct IsBipolar<Bipolar> {
    static const bool value = true;
};

// Product of an input element and a weight, both given by their bit codes. DSP (the MVAU's
// res_type) binds the multiplier to a DSP slice, else to fabric (LUTs): the hardware the
// resource model counted. Products with a bipolar operand in LUTs are a conditional negation
// (XNOR for two), no multiplier; on a DSP they are a multiplication by +-1 like any other.
// Two copies of the multiplier, as a pragma cannot depend on a template parameter.
template <typename TI, typename TW, bool DSP = false>
struct Mul {
    typedef ap_int<TI::width + TW::width + 1> result_t;
    static result_t apply(ap_uint<TI::width> x, ap_uint<TW::width> w) {
#pragma HLS INLINE
        result_t p = result_t(TI::decode(x)) * result_t(TW::decode(w));
#pragma HLS BIND_OP variable = p op = mul impl = fabric
        return p;
    }
};

template <typename TI, typename TW>
struct Mul<TI, TW, true> {
    typedef ap_int<TI::width + TW::width + 1> result_t;
    static result_t apply(ap_uint<TI::width> x, ap_uint<TW::width> w) {
#pragma HLS INLINE
        result_t p = result_t(TI::decode(x)) * result_t(TW::decode(w));
#pragma HLS BIND_OP variable = p op = mul impl = dsp
        return p;
    }
};

template <>
struct Mul<Bipolar, Bipolar, false> {  // XNOR: +1 where the bits agree
    typedef ap_int<2> result_t;
    static result_t apply(ap_uint<1> x, ap_uint<1> w) { return x == w ? result_t(1) : result_t(-1); }
};

template <typename TW>
struct Mul<Bipolar, TW, false> {
    typedef ap_int<TW::width + 2> result_t;
    static result_t apply(ap_uint<1> x, ap_uint<TW::width> w) {
        result_t v = TW::decode(w);
        return x ? v : result_t(-v);
    }
};

template <typename TI>
struct Mul<TI, Bipolar, false> {
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

// Every kernel's pipelined loop runs frames * PER_FRAME iterations, `frames` a run-time argument:
// its LOOP_TRIPCOUNT pragma gives Vitis HLS PER_FRAME (one frame), so that csynth reports a latency
// per frame instead of none.
//
// C simulation only: a probe on every kernel's pipelined loop (to check the cycle model and the
// FIFO-sizing schedules against what the loops really do), and the fast path.
//
// HWGEN_PROBE(p, name) opens a probe for layer `name`; HWGEN_READ(p, s) / HWGEN_WRITE(p, s, v)
// read / write a stream word; HWGEN_NEXT(p) ends an iteration. The probe counts iterations, and
// while tracing is on (hwgen_trace_enable) records the iteration of every word read and written.
// In synthesis they are the plain stream accesses and nothing else.
//
// By default g++ C-sim runs each kernel's arithmetic in plain C++ integers (long long), which gives
// the same values as the ap_int arithmetic of synthesis as long as the accumulator fits its
// declared type: that is checked on every output (hwgen_overflow), so a too-narrow type fails the
// C-sim instead of passing silently. -DHWGEN_CSIM_EXACT compiles the synthesis arithmetic (ap_int,
// bit-accurate wrap-around, the loops as synthesized) instead.
#ifndef __SYNTHESIS__
extern bool hwgen_tracing;
unsigned long long hwgen_count(const char* layer, unsigned long long iterations);  // returns the total so far
void hwgen_trace(const char* layer, unsigned long long iteration, bool write);
void hwgen_untraceable(const char* layer);
void hwgen_overflow(const char* layer);

class Probe {
  public:
    explicit Probe(const char* layer) : layer_(layer), base_(hwgen_count(layer, 0)), it_(0) {}
    ~Probe() { hwgen_count(layer_, it_); }
    template <typename T>
    T read(hls::stream<T>& s) {
        if (hwgen_tracing) hwgen_trace(layer_, base_ + it_, false);
        return s.read();
    }
    template <typename T>
    void write(hls::stream<T>& s, const T& v) {
        if (hwgen_tracing) hwgen_trace(layer_, base_ + it_, true);
        s.write(v);
    }
    void next() { ++it_; }
    // the fast path, which has no such loop: the iterations the loop it stands in for would run,
    // with its reads and writes not traced
    void skip(unsigned long long n) {
        if (hwgen_tracing) hwgen_untraceable(layer_);
        it_ += n;
    }

  private:
    const char* layer_;
    unsigned long long base_, it_;
};
#define HWGEN_PROBE(p, layer) hwgen::Probe p(layer)
#define HWGEN_READ(p, s) p.read(s)
#define HWGEN_WRITE(p, s, v) p.write(s, v)
#define HWGEN_NEXT(p) p.next()
#ifndef HWGEN_CSIM_EXACT
#define HWGEN_FAST_CSIM 1
#endif
#else
#define HWGEN_PROBE(p, layer)
#define HWGEN_READ(p, s) (s).read()
#define HWGEN_WRITE(p, s, v) (s).write(v)
#define HWGEN_NEXT(p)
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
