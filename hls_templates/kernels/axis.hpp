// hwgen kernel library: AXI4-Stream boundary of the accelerator.
//
// The top function's ports are AXI4-Stream words. One call (one ap_start) streams `frames` frames,
// as the driver moves them in one AXI DMA transfer each way; TLAST marks the last output word of the
// call, where the DMA's S2MM channel (direct-register mode) must end its transfer (AMD PG021). A
// TLAST on every frame would end the receive after the first frame. Inside, layers use plain packed
// words; the input's TLAST (the MM2S channel's, on its transfer's last word) is not needed.
// With Vitis HLS, ap_axiu comes from <ap_axi_sdata.h>; for g++ C simulation without it, a
// minimal struct with the same fields stands in (the fields hwgen uses: data, keep, last).
#ifndef HWGEN_AXIS_HPP
#define HWGEN_AXIS_HPP

#include <hls_stream.h>

#include "hwgen_types.hpp"

#if defined(__SYNTHESIS__) || defined(HWGEN_HAVE_AP_AXI_SDATA)
#include <ap_axi_sdata.h>
#else
template <int D, int U, int TI, int TD>
struct ap_axiu {
    ap_uint<D> data;
    ap_uint<(D + 7) / 8> keep;
    ap_uint<(D + 7) / 8> strb;
    ap_uint<1> last;
};
#endif

namespace hwgen {

// AXI words (BUS bits) carrying one packed word (BITS <= BUS) each -> internal stream.
template <unsigned BUS, unsigned BITS, unsigned WORDS>
void axis_to_stream(hls::stream<ap_axiu<BUS, 0, 0, 0> >& in, hls::stream<ap_uint<BITS> >& out, unsigned frames) {
    static_assert(BITS <= BUS, "axis_to_stream: word wider than the bus");
    for (unsigned long long i = 0; i < (unsigned long long)frames * WORDS; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = WORDS avg = WORDS max = WORDS
        ap_axiu<BUS, 0, 0, 0> word = in.read();
        out.write(ap_uint<BITS>(word.data(BITS - 1, 0)));
    }
}

// Internal stream -> AXI words, TLAST on the last word of the call (of all `frames` frames).
template <unsigned BUS, unsigned BITS, unsigned WORDS>
void stream_to_axis(hls::stream<ap_uint<BITS> >& in, hls::stream<ap_axiu<BUS, 0, 0, 0> >& out, unsigned frames) {
    static_assert(BITS <= BUS, "stream_to_axis: word wider than the bus");
    const unsigned long long last = (unsigned long long)frames * WORDS - 1;
    for (unsigned long long i = 0; i < (unsigned long long)frames * WORDS; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = WORDS avg = WORDS max = WORDS
        ap_axiu<BUS, 0, 0, 0> word;
        word.data = 0;
        word.data(BITS - 1, 0) = in.read();
        word.keep = -1;
        word.strb = -1;
        word.last = (i == last);
        out.write(word);
    }
}

}  // namespace hwgen

#endif
