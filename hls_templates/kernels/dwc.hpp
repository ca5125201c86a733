// hwgen kernel library: stream data width converter.
//
// Re-packs a stream of words of IN elements into words of OUT elements (W bits each), one of
// IN, OUT dividing the other. ELEMS elements per frame. One pipelined loop per frame of
// max(ELEMS/IN, ELEMS/OUT) iterations: every iteration reads or writes one word.
#ifndef HWGEN_DWC_HPP
#define HWGEN_DWC_HPP

#include <hls_stream.h>

#include "hwgen_types.hpp"

namespace hwgen {

template <unsigned W, unsigned IN, unsigned OUT, unsigned ELEMS, bool SPLIT = (IN > OUT)>
struct Dwc;

template <unsigned W, unsigned IN, unsigned OUT, unsigned ELEMS>
struct Dwc<W, IN, OUT, ELEMS, true> {  // one wide word in, IN/OUT narrow words out
    static void run(hls::stream<ap_uint<IN * W> >& in, hls::stream<ap_uint<OUT * W> >& out, unsigned frames, const char* name) {
        static_assert(IN % OUT == 0 && ELEMS % IN == 0, "DWC: OUT must divide IN, IN must divide ELEMS");
        const unsigned RATIO = IN / OUT;
        const unsigned long long PER_FRAME = ELEMS / OUT;  // loop iterations per frame
        const unsigned long long total = frames * PER_FRAME;
        HWGEN_PROBE(probe, name);
        ap_uint<IN * W> word = 0;
        unsigned part = 0;
        for (unsigned long long i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = PER_FRAME avg = PER_FRAME max = PER_FRAME
            if (part == 0) word = HWGEN_READ(probe, in);
            HWGEN_WRITE(probe, out, ap_uint<OUT * W>(word(OUT * W - 1, 0)));
            word = word >> (OUT * W);
            if (++part == RATIO) part = 0;
            HWGEN_NEXT(probe);
        }
    }
};

template <unsigned W, unsigned IN, unsigned OUT, unsigned ELEMS>
struct Dwc<W, IN, OUT, ELEMS, false> {  // OUT/IN narrow words in, one wide word out
    static void run(hls::stream<ap_uint<IN * W> >& in, hls::stream<ap_uint<OUT * W> >& out, unsigned frames, const char* name) {
        static_assert(OUT % IN == 0 && ELEMS % OUT == 0, "DWC: IN must divide OUT, OUT must divide ELEMS");
        const unsigned RATIO = OUT / IN;
        const unsigned long long PER_FRAME = ELEMS / IN;  // loop iterations per frame
        const unsigned long long total = frames * PER_FRAME;
        HWGEN_PROBE(probe, name);
        ap_uint<OUT * W> word = 0;
        unsigned part = 0;
        for (unsigned long long i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = PER_FRAME avg = PER_FRAME max = PER_FRAME
            ap_uint<IN * W> x = HWGEN_READ(probe, in);
            word = (word >> (IN * W));
            word((OUT * W) - 1, (OUT - IN) * W) = x;
            if (++part == RATIO) {
                HWGEN_WRITE(probe, out, word);
                part = 0;
            }
            HWGEN_NEXT(probe);
        }
    }
};

template <unsigned W, unsigned IN, unsigned OUT, unsigned ELEMS>
void dwc(hls::stream<ap_uint<IN * W> >& in, hls::stream<ap_uint<OUT * W> >& out, unsigned frames, const char* name) {
    Dwc<W, IN, OUT, ELEMS>::run(in, out, frames, name);
}

}  // namespace hwgen

#endif
