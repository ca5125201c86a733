// hwgen kernel library: streaming max pool, channels last, with padding.
//
//   out[oy][ox][c] = max over ky < KH, kx < KW of padded[oy*SH + ky][ox*SW + kx][c]
// where padding (PT, PL, PB, PR rows/columns, each smaller than the window) never wins: ONNX
// pads with -inf. PE channels per stream word in and out.
//
// The loop and line buffer of swg.hpp (Window): block oy walks the window elements of output
// row oy in (ox, c-fold, ky, kx) order, one word of PE elements per iteration, keeping a running
// maximum per lane; the last element of a window writes the output word. Every input word is
// read once; max(OFM_W*KH*KW*C/PE, reads) iterations per block, II=1.
#ifndef HWGEN_MAXPOOL_HPP
#define HWGEN_MAXPOOL_HPP

#include <hls_stream.h>

#include "hwgen_types.hpp"
#include "swg.hpp"

namespace hwgen {

template <unsigned IFM_H, unsigned IFM_W, unsigned C, unsigned KH, unsigned KW, unsigned SH, unsigned SW,
          unsigned PT, unsigned PL, unsigned PB, unsigned PR, unsigned PE, typename T>
void maxpool(hls::stream<ap_uint<PE * T::width> >& in, hls::stream<ap_uint<PE * T::width> >& out,
             unsigned frames, const char* name) {
    static_assert(C % PE == 0, "MaxPool: PE must divide C");
    static_assert(PT < KH && PB < KH && PL < KW && PR < KW, "MaxPool: padding must be smaller than the window");
    typedef Window<IFM_H, IFM_W, C, KH, KW, SH, SW, PT, PL, PB, PR, PE> G;
    typedef ap_uint<PE * T::width> word_t;
    typedef typename T::value_t value_t;

    // No DEPENDENCE pragma: a word written in a block's last iteration can be read in the next
    // block's first (1x1 windows on a one-word row), so the read-after-write order is real.
#ifndef __SYNTHESIS__
    static  // C-sim: keep large line buffers off the stack (layers run one after another)
#endif
    word_t buffer[G::ROWS][G::ROW];
    value_t acc[PE];
#pragma HLS ARRAY_PARTITION variable = acc complete
    static constexpr BlockTables<G::BLOCKS> schedule = block_tables<G>();
    static_assert(schedule.words == G::WORDS, "MaxPool: the schedule must read every input word once");
    const unsigned long long PER_FRAME = schedule.per_frame;
    Blocks<G> at(schedule);  // where the next input word goes, where the windows start
    unsigned ox = 0, cf = 0, ky = 0, kx = 0;
    const unsigned long long total = frames * PER_FRAME;
    HWGEN_PROBE(probe, name);
    for (unsigned long long it = 0; it < total; it++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = PER_FRAME avg = PER_FRAME max = PER_FRAME
        if (at.reading()) at.store(buffer, HWGEN_READ(probe, in));
        if (at.writing()) {
            const int r = at.base_row + (int)ky, c = (int)(ox * SW + kx) - (int)PL;
            const bool inside = r >= 0 && r < (int)IFM_H && c >= 0 && c < (int)IFM_W;
            const word_t x = buffer[at.slot(ky)][inside ? (unsigned)c * G::CF + cf : 0];
            const bool first = ky == 0 && kx == 0;
            for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
                const value_t m = first ? value_t(T::min) : acc[p];
                const value_t v = T::decode(element<T::width>(x, p));
                acc[p] = inside && v > m ? v : m;
            }
            if (++kx == KW) {
                kx = 0;
                if (++ky == KH) {
                    ky = 0;
                    word_t y;
                    for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
                        y((p + 1) * T::width - 1, p * T::width) = T::encode(acc[p]);
                    }
                    HWGEN_WRITE(probe, out, y);
                    if (++cf == G::CF) {
                        cf = 0;
                        ox++;
                    }
                }
            }
        }
        if (at.next(schedule)) ox = 0;
        HWGEN_NEXT(probe);
    }
}

}  // namespace hwgen

#endif
