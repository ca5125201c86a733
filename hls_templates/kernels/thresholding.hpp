// hwgen kernel library: standalone multi-threshold activation.
//
//   y[c] = OUT_MIN + #{k : x[c] >= T[c][k]}   (bipolar out: the bit x[c] >= T[c][0])
// PE channels per cycle; one pipelined loop of VECTORS * C/PE iterations per frame.
// Layout: thresholds[p][cf][k] holds T[cf*PE + p][k].
#ifndef HWGEN_THRESHOLDING_HPP
#define HWGEN_THRESHOLDING_HPP

#include <hls_stream.h>

#include "hwgen_types.hpp"
#include "mvau.hpp"

namespace hwgen {

template <unsigned C, unsigned PE, unsigned VECTORS, typename TI, typename TO, unsigned NT, int OUT_MIN, typename TTS>
void thresholding(hls::stream<ap_uint<PE * TI::width> >& in, hls::stream<ap_uint<PE * TO::width> >& out,
                  const TTS thresholds[PE][C / PE][NT], unsigned frames, const char* name) {
    static_assert(C % PE == 0, "Thresholding: PE must divide C");
    static_assert(NT > 0, "Thresholding: at least one threshold");
    const unsigned CF = C / PE;
    unsigned cf = 0;
    const unsigned long long PER_FRAME = (unsigned long long)VECTORS * CF;  // loop iterations per frame
    const unsigned long long total = frames * PER_FRAME;
    HWGEN_PROBE(probe, name);
    for (unsigned long long i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = PER_FRAME avg = PER_FRAME max = PER_FRAME
        ap_uint<PE * TI::width> x = HWGEN_READ(probe, in);
        ap_uint<PE * TO::width> y;
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            typename TI::value_t v = TI::decode(element<TI::width>(x, p));
            y((p + 1) * TO::width - 1, p * TO::width) = Activation<TI, TO, NT, OUT_MIN>::apply(v, thresholds[p][cf]);
        }
        HWGEN_WRITE(probe, out, y);
        if (++cf == CF) cf = 0;
        HWGEN_NEXT(probe);
    }
}

}  // namespace hwgen

#endif
