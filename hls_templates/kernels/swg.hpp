// hwgen kernel library: sliding window generator (FINN's ConvolutionInputGenerator) with padding.
//
// In: an IFM_H x IFM_W image of C channels, channels last, WORD channels per stream word.
// Out: for every output pixel (oy, ox) in row-major order its KH x KW window in (ky, kx, c)
// order, c fastest:  out[oy][ox][ky][kx][c] = padded[oy*SH + ky][ox*SW + kx][c], where the
// padded image has PT, PL, PB, PR rows/columns of zeros on top, left, bottom, right.
//
// A line buffer of KH + SH input rows; every input word is read once. One pipelined loop at
// II=1, in blocks (the schedule of hwgen.estimate.cycle_model.window_blocks):
//   block -1     : read the input rows output row 0 needs (rows 0 .. last(0));
//   block oy >= 0: one window word per iteration (OPS = OFM_W*KH*KW*C/WORD of them) while the rows
//                  up to last(oy + 1) are read; max(OPS, reads) iterations.
// Input row r lives in buffer row r mod ROWS: the rows a block reads, (last(oy), last(oy+1)],
// are at most SH rows past the KH rows its windows use, so they never overwrite them.
// Each block's reads and iterations come from tables the compiler fills (block_tables): the loop
// compares its counter with registers and never evaluates last() at run time.
// The C-sim runs this same loop in both modes (it only moves words: no fast path needed).
#ifndef HWGEN_SWG_HPP
#define HWGEN_SWG_HPP

#include <hls_stream.h>

#include "hwgen_types.hpp"

namespace hwgen {

// Geometry of swg and maxpool. The schedule arithmetic (last, reads, length) is constexpr: it is
// evaluated at compile time into BlockTables, never by the loops (see Blocks).
template <unsigned IFM_H, unsigned IFM_W, unsigned C, unsigned KH, unsigned KW, unsigned SH, unsigned SW,
          unsigned PT, unsigned PL, unsigned PB, unsigned PR, unsigned WORD>
struct Window {
    static const unsigned OFM_H = (IFM_H + PT + PB - KH) / SH + 1;
    static const unsigned OFM_W = (IFM_W + PL + PR - KW) / SW + 1;
    static const unsigned CF = C / WORD;      // words per pixel
    static const unsigned ROW = IFM_W * CF;   // words per input row
    static const unsigned ROWS = KH + SH;     // line buffer rows
    static const unsigned OPS = OFM_W * KH * KW * CF;
    static const unsigned STRIDE_H = SH;
    static const unsigned BLOCKS = OFM_H + 1;  // blocks -1 .. OFM_H - 1, entries 0 .. OFM_H of the tables
    static const unsigned WORDS = IFM_H * ROW;  // input words per frame

    static constexpr int last(int oy) {  // the last input row output row oy needs (-1: none)
        if (oy < 0) return -1;
        if (oy >= (int)OFM_H) return (int)IFM_H - 1;
        const int l = oy * (int)SH + (int)KH - 1 - (int)PT;
        return l < -1 ? -1 : (l > (int)IFM_H - 1 ? (int)IFM_H - 1 : l);
    }
    static constexpr unsigned reads(unsigned entry) {  // block entry - 1 reads rows (last(entry - 1), last(entry)]
        return (unsigned)(last((int)entry) - last((int)entry - 1)) * ROW;
    }
    static constexpr unsigned length(unsigned entry) {  // iterations: block -1 only reads
        return entry == 0 || reads(entry) > OPS ? reads(entry) : OPS;
    }
    static int first_row() { return -(int)PT; }  // input row of output row 0's windows' top
    static unsigned first_slot() { return (ROWS - PT % ROWS) % ROWS; }  // its buffer row (row r: r mod ROWS)
};

// A window kernel's block schedule as compile-time tables: entry b + 1 holds block b's input words
// (`reads`) and loop iterations (`length`), for b = -1 .. OFM_H - 1 (hwgen.estimate.cycle_model.
// window_blocks: reads, and max(reads, ops) after block -1).
template <unsigned N>
struct BlockTables {
    unsigned reads[N], length[N];
    unsigned first;                 // the first block's entry: 1 when block -1 reads nothing (it is skipped)
    unsigned long long per_frame;   // loop iterations per frame
    unsigned long long words;       // input words read per frame
};

template <typename G>
constexpr BlockTables<G::BLOCKS> block_tables() {
    BlockTables<G::BLOCKS> t{};
    for (unsigned e = 0; e < G::BLOCKS; e++) {
        t.reads[e] = G::reads(e);
        t.length[e] = G::length(e);
        t.per_frame += t.length[e];
        t.words += t.reads[e];
    }
    t.first = t.length[0] ? 0 : 1;
    return t;
}

// Where swg and maxpool are in their block schedule: the line-buffer slot the next input word
// goes to, and the input row / buffer slot the current output row's windows start at.
// Between blocks the loop only moves registers: the next block's counts (up_reads, up_len) are
// looked up from the tables one block ahead, at a table index held in a register (`up`).
template <typename G>
struct Blocks {
    typedef BlockTables<G::BLOCKS> Tables;
    int base_row;
    unsigned entry, up, base_slot, i, nreads, len, up_reads, up_len, wslot, wword;

    explicit Blocks(const Tables& t)
        : base_row(G::first_row()), entry(t.first), up(after(t, t.first)), base_slot(G::first_slot()), i(0),
          nreads(t.reads[t.first]), len(t.length[t.first]), up_reads(t.reads[up]), up_len(t.length[up]), wslot(0), wword(0) {}

    static unsigned after(const Tables& t, unsigned e) { return e == G::OFM_H ? t.first : e + 1; }  // the next block's entry

    bool reading() const { return i < nreads; }
    bool writing() const { return entry != 0 && i < G::OPS; }  // block -1 (entry 0) only reads

    template <typename W>
    void store(W buffer[G::ROWS][G::ROW], const W& word) {
#pragma HLS INLINE
        buffer[wslot][wword] = word;
        if (++wword == G::ROW) {
            wword = 0;
            if (++wslot == G::ROWS) wslot = 0;
        }
    }

    unsigned slot(unsigned ky) const {  // the buffer row of window row ky
        unsigned s = base_slot + ky;
        return s >= G::ROWS ? s - G::ROWS : s;
    }

    bool next(const Tables& t) {  // after an iteration; true when the next block (output row) begins
#pragma HLS INLINE
        if (++i != len) return false;
        i = 0;
        nreads = up_reads;
        len = up_len;
        const bool new_frame = entry == G::OFM_H;
        entry = up;
        up = after(t, up);
        up_reads = t.reads[up];
        up_len = t.length[up];
        if (new_frame) {
            wslot = 0;
            base_row = G::first_row();
            base_slot = G::first_slot();
        } else if (entry > 1) {  // after block -1 the windows start at row -PT, as set
            base_row += G::STRIDE_H;
            base_slot += G::STRIDE_H;  // SH < ROWS
            if (base_slot >= G::ROWS) base_slot -= G::ROWS;
        }
        return true;
    }
};

template <unsigned IFM_H, unsigned IFM_W, unsigned C, unsigned KH, unsigned KW, unsigned SH, unsigned SW,
          unsigned PT, unsigned PL, unsigned PB, unsigned PR, unsigned SIMD, typename T>
void swg(hls::stream<ap_uint<SIMD * T::width> >& in, hls::stream<ap_uint<SIMD * T::width> >& out,
         unsigned frames, const char* name) {
    static_assert(C % SIMD == 0, "SWG: SIMD must divide C");
    static_assert(IFM_H + PT + PB >= KH && IFM_W + PL + PR >= KW, "SWG: the window must fit the padded image");
    typedef Window<IFM_H, IFM_W, C, KH, KW, SH, SW, PT, PL, PB, PR, SIMD> G;
    typedef ap_uint<SIMD * T::width> word_t;

    // No DEPENDENCE pragma: a word written in a block's last iteration can be read in the next
    // block's first (1x1 windows on a one-word row), so the read-after-write order is real.
#ifndef __SYNTHESIS__
    static  // C-sim: keep large line buffers off the stack (layers run one after another)
#endif
    word_t buffer[G::ROWS][G::ROW];
    static constexpr BlockTables<G::BLOCKS> schedule = block_tables<G>();
    static_assert(schedule.words == G::WORDS, "SWG: the schedule must read every input word once");
    const unsigned long long PER_FRAME = schedule.per_frame;
    Blocks<G> at(schedule);  // where the next input word goes, where the windows start
    unsigned ox = 0, ky = 0, kx = 0, cf = 0;  // the next window word
    const unsigned long long total = frames * PER_FRAME;
    HWGEN_PROBE(probe, name);
    for (unsigned long long it = 0; it < total; it++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = PER_FRAME avg = PER_FRAME max = PER_FRAME
        if (at.reading()) at.store(buffer, HWGEN_READ(probe, in));
        if (at.writing()) {
            const int r = at.base_row + (int)ky, c = (int)(ox * SW + kx) - (int)PL;
            word_t y = 0;
            if (r >= 0 && r < (int)IFM_H && c >= 0 && c < (int)IFM_W) {
                y = buffer[at.slot(ky)][(unsigned)c * G::CF + cf];
            }
            HWGEN_WRITE(probe, out, y);
            if (++cf == G::CF) {
                cf = 0;
                if (++kx == KW) {
                    kx = 0;
                    if (++ky == KH) {
                        ky = 0;
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
