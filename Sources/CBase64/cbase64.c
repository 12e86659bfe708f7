/* Base64 encode/decode, both RFC 4648 alphabets; see include/cbase64.h for the contract.
 *
 * Layout: a portable scalar codec (used alone on other architectures, and everywhere for the
 * bytes the vector loops leave over and for judging invalid input), plus SSSE3 and AVX2 loops
 * for x86_64 after the approach of Wojciech Muła and Daniel Lemire ("Faster Base64 Encoding
 * and Decoding Using AVX2 Instructions", 2018). The vector loops only ever handle whole blocks
 * that lie inside the input and whose stores fit in the output; they stop at the first block
 * holding a byte outside the alphabet and leave it to the scalar code to reject. */

#include "cbase64.h"

/* ---- Alphabets and scalar code ------------------------------------------------------------ */

static const uint8_t enc_std[65] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const uint8_t enc_url[65] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Character -> 6-bit value; 0xFF for bytes outside the alphabet. Only 0x2B..0x7A can be valid. */
#define BAD16 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, \
              0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF
#define LETTERS /* 0x40 .. 0x7F, identical in both alphabets except 0x5F ('_') */          \
    0xFF, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, \
    0x0F, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0xFF, 0xFF, 0xFF, 0xFF, US,   \
    0xFF, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, \
    0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F, 0x30, 0x31, 0x32, 0x33, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF
#define DIGITS /* 0x30 .. 0x3F */ \
    0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF

#define US 0xFF
static const uint8_t dec_std[256] = {
    BAD16, BAD16,
    /* 0x20: '+' = 62 at 0x2B, '/' = 63 at 0x2F */
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3E, 0xFF, 0xFF, 0xFF, 0x3F,
    DIGITS, LETTERS,
    BAD16, BAD16, BAD16, BAD16, BAD16, BAD16, BAD16, BAD16,
};
#undef US
#define US 0x3F /* '_' = 63 */
static const uint8_t dec_url[256] = {
    BAD16, BAD16,
    /* 0x20: '-' = 62 at 0x2D */
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3E, 0xFF, 0xFF,
    DIGITS, LETTERS,
    BAD16, BAD16, BAD16, BAD16, BAD16, BAD16, BAD16, BAD16,
};
#undef US

size_t cb64_encoded_length(size_t n) { return (n + 2) / 3 * 4; }

/* Encodes the whole 3-byte groups of src[0..<n] and pads the last partial group. */
static void enc_scalar(const uint8_t *src, size_t n, uint8_t *dst, const uint8_t *t) {
    size_t i = 0;
    for (; i + 3 <= n; i += 3, dst += 4) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        dst[0] = t[v >> 18];
        dst[1] = t[(v >> 12) & 63];
        dst[2] = t[(v >> 6) & 63];
        dst[3] = t[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)src[i] << 16;
        dst[0] = t[v >> 18];
        dst[1] = t[(v >> 12) & 63];
        dst[2] = '=';
        dst[3] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
        dst[0] = t[v >> 18];
        dst[1] = t[(v >> 12) & 63];
        dst[2] = t[(v >> 6) & 63];
        dst[3] = '=';
    }
}

/* Decodes n (a multiple of 4) characters holding no padding; returns 0 on a bad character. */
static int dec_scalar(const uint8_t *src, size_t n, uint8_t *dst, const uint8_t *t) {
    uint8_t bad = 0;
    for (size_t i = 0; i < n; i += 4, dst += 3) {
        uint8_t a = t[src[i]], b = t[src[i + 1]], c = t[src[i + 2]], d = t[src[i + 3]];
        bad |= a | b | c | d;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
        dst[0] = (uint8_t)(v >> 16);
        dst[1] = (uint8_t)(v >> 8);
        dst[2] = (uint8_t)v;
    }
    return (bad & 0xC0) == 0;
}

/* ---- x86_64 vector code ------------------------------------------------------------------- */

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define CB64_X86 1

/* Encoding, per 12 input bytes -> 16 characters, in each 128-bit lane:
 *  1. pshufb spreads each 3-byte group [a b c] into a 32-bit word with bytes [b a c b], so its
 *     16-bit halves are a:b and b:c and every 6-bit field sits inside one half.
 *  2. Two masks pick fields 0 and 2 (the high bits of a:b, bits 11..6 of b:c) and fields 1 and 3;
 *     mulhi by 2^6 / 2^10 shifts the first pair down to byte 0 / byte 2, mullo by 2^4 / 2^8 shifts
 *     the second pair up to byte 1 / byte 3: each byte now holds one index 0..63 in output order.
 *  3. An index is turned into ASCII by adding an offset that depends on its range only
 *     (A-Z, a-z, 0-9, 62, 63): saturating subtract 51 maps 52..61 to 1..10, 62 to 11 and 63 to 12
 *     and everything below 52 to 0; indices below 26 are then moved to 13; a pshufb of the
 *     offset table by that key gives the offset. */
#define ENC_SHUFFLE(S) S(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10)
#define ENC_OFFSETS(S, c62, c63) \
    S('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, \
      '0' - 52, '0' - 52, '0' - 52, (c62) - 62, (c63) - 63, 'A', 0, 0)

/* Decoding, per 16 characters -> 12 bytes, in each 128-bit lane:
 *  1. Validity by nibbles: lut_hi maps a byte's high nibble to a one-bit class (high nibbles
 *     whose valid low nibbles are the same share a class; 0-1 and 8-F get a class no low nibble
 *     allows), lut_lo maps the low nibble to the set of classes in which it is NOT valid. The
 *     byte is in the alphabet iff lut_lo[lo] & lut_hi[hi] == 0.
 *  2. Value = byte + delta, where the delta depends on the high nibble only, except that the
 *     character for 63 shares its high nibble with others of another delta ('/' with '+', '_'
 *     with P-Z); it is told apart by setting bit 3 of its key (2 | 8 = 10 for '/', 5 | 8 = 13
 *     for '_'; real bytes with those high nibbles are invalid anyway).
 *  3. pmaddubsw joins pairs of 6-bit values into 12 bits, pmaddwd pairs of those into the 24
 *     bits of one group, and pshufb writes the three bytes of each 32-bit word big-endian and
 *     packed into the first 12 bytes of the lane. */
struct dec_luts {
    int8_t lo[16], hi[16], delta[16];
    int8_t c63;
};
static const struct dec_luts luts_std = {
    /* classes: 0x01 hi 2 ('+' '/'), 0x02 hi 3 (0-9), 0x04 hi 4 and 6 (A-O a-o), 0x08 hi 5 and 7
     * (P-Z p-z), 0x10 everything else. */
    .lo = {0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A},
    .hi = {0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10},
    .delta = {0, 0, 62 - '+', 52 - '0', -'A', -'A', 26 - 'a', 26 - 'a',
              0, 0, 63 - '/', 0, 0, 0, 0, 0},
    .c63 = '/',
};
static const struct dec_luts luts_url = {
    /* classes: 0x01 hi 2 ('-'), 0x02 hi 3 (0-9), 0x04 hi 4 and 6 (A-O a-o), 0x08 hi 5 (P-Z '_'),
     * 0x10 hi 7 (p-z), 0x20 everything else. */
    .lo = {0x25, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x23, 0x3B, 0x3B, 0x3A, 0x3B, 0x33},
    .hi = {0x20, 0x20, 0x01, 0x02, 0x04, 0x08, 0x04, 0x10, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20},
    .delta = {0, 0, 62 - '-', 52 - '0', -'A', -'A', 26 - 'a', 26 - 'a',
              0, 0, 0, 0, 0, 63 - '_', 0, 0},
    .c63 = '_',
};

#define SETR128(...) _mm_setr_epi8(__VA_ARGS__)
#define SETR256(...) _mm256_setr_epi8(__VA_ARGS__, __VA_ARGS__)

__attribute__((target("ssse3")))
static inline __m128i enc_translate_128(__m128i in, __m128i offsets) {
    __m128i t0 = _mm_mulhi_epu16(_mm_and_si128(in, _mm_set1_epi32(0x0FC0FC00)), _mm_set1_epi32(0x04000040));
    __m128i t1 = _mm_mullo_epi16(_mm_and_si128(in, _mm_set1_epi32(0x003F03F0)), _mm_set1_epi32(0x01000010));
    __m128i idx = _mm_or_si128(t0, t1);
    __m128i key = _mm_subs_epu8(idx, _mm_set1_epi8(51));
    key = _mm_or_si128(key, _mm_and_si128(_mm_cmpgt_epi8(_mm_set1_epi8(26), idx), _mm_set1_epi8(13)));
    return _mm_add_epi8(idx, _mm_shuffle_epi8(offsets, key));
}

/* Returns the number of input bytes consumed (a multiple of 12); the output is 4/3 of that. */
__attribute__((target("ssse3")))
static size_t enc_ssse3(const uint8_t *src, size_t n, uint8_t *dst, int alphabet) {
    const __m128i shuffle = ENC_SHUFFLE(SETR128);
    const __m128i offsets = alphabet == CB64_URLSAFE ? ENC_OFFSETS(SETR128, '-', '_')
                                                     : ENC_OFFSETS(SETR128, '+', '/');
    size_t i = 0;
    for (; i + 16 <= n; i += 12, dst += 16) { /* loads 16 bytes, uses 12 */
        __m128i in = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(src + i)), shuffle);
        _mm_storeu_si128((__m128i *)dst, enc_translate_128(in, offsets));
    }
    return i;
}

__attribute__((target("avx2")))
static size_t enc_avx2(const uint8_t *src, size_t n, uint8_t *dst, int alphabet) {
    const __m256i shuffle = ENC_SHUFFLE(SETR256);
    const __m256i offsets = alphabet == CB64_URLSAFE ? ENC_OFFSETS(SETR256, '-', '_')
                                                     : ENC_OFFSETS(SETR256, '+', '/');
    size_t i = 0;
    for (; i + 28 <= n; i += 24, dst += 32) { /* lanes load src[i..<i+16] and src[i+12..<i+28] */
        __m256i in = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(src + i))),
            _mm_loadu_si128((const __m128i *)(src + i + 12)), 1);
        in = _mm256_shuffle_epi8(in, shuffle);
        __m256i t0 = _mm256_mulhi_epu16(_mm256_and_si256(in, _mm256_set1_epi32(0x0FC0FC00)),
                                        _mm256_set1_epi32(0x04000040));
        __m256i t1 = _mm256_mullo_epi16(_mm256_and_si256(in, _mm256_set1_epi32(0x003F03F0)),
                                        _mm256_set1_epi32(0x01000010));
        __m256i idx = _mm256_or_si256(t0, t1);
        __m256i key = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
        key = _mm256_or_si256(key, _mm256_and_si256(_mm256_cmpgt_epi8(_mm256_set1_epi8(26), idx),
                                                    _mm256_set1_epi8(13)));
        _mm256_storeu_si256((__m256i *)dst, _mm256_add_epi8(idx, _mm256_shuffle_epi8(offsets, key)));
    }
    return i;
}

/* Packs 16 six-bit values per lane into 12 bytes at the start of the lane (last 4 are zero). */
#define DEC_PACK_SHUFFLE(S) S(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1)

/* Decodes whole blocks of 16 characters while a 16-byte store still fits in cap; stops before
 * the first block with a byte outside the alphabet. Returns the characters consumed. */
__attribute__((target("ssse3")))
static size_t dec_ssse3(const uint8_t *src, size_t n, uint8_t *dst, size_t cap, const struct dec_luts *L) {
    const __m128i lut_lo = _mm_loadu_si128((const __m128i *)L->lo);
    const __m128i lut_hi = _mm_loadu_si128((const __m128i *)L->hi);
    const __m128i lut_delta = _mm_loadu_si128((const __m128i *)L->delta);
    const __m128i c63 = _mm_set1_epi8(L->c63), nibble = _mm_set1_epi8(0x0F);
    const __m128i pack = DEC_PACK_SHUFFLE(SETR128);
    size_t i = 0, o = 0;
    for (; i + 16 <= n && o + 16 <= cap; i += 16, o += 12) {
        __m128i s = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i hi = _mm_and_si128(_mm_srli_epi32(s, 4), nibble);
        __m128i bad = _mm_and_si128(_mm_shuffle_epi8(lut_lo, _mm_and_si128(s, nibble)),
                                    _mm_shuffle_epi8(lut_hi, hi));
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(bad, _mm_setzero_si128())) != 0xFFFF) break;
        __m128i key = _mm_or_si128(hi, _mm_and_si128(_mm_cmpeq_epi8(s, c63), _mm_set1_epi8(8)));
        __m128i v = _mm_add_epi8(s, _mm_shuffle_epi8(lut_delta, key));
        v = _mm_maddubs_epi16(v, _mm_set1_epi32(0x01400140)); /* a*64 + b, c*64 + d */
        v = _mm_madd_epi16(v, _mm_set1_epi32(0x00011000));    /* ab*4096 + cd */
        _mm_storeu_si128((__m128i *)(dst + o), _mm_shuffle_epi8(v, pack));
    }
    return i;
}

__attribute__((target("avx2")))
static size_t dec_avx2(const uint8_t *src, size_t n, uint8_t *dst, size_t cap, const struct dec_luts *L) {
    const __m256i lut_lo = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)L->lo));
    const __m256i lut_hi = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)L->hi));
    const __m256i lut_delta = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)L->delta));
    const __m256i c63 = _mm256_set1_epi8(L->c63), nibble = _mm256_set1_epi8(0x0F);
    const __m256i pack = DEC_PACK_SHUFFLE(SETR256);
    const __m256i join = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7); /* the two 12-byte halves */
    size_t i = 0, o = 0;
    for (; i + 32 <= n && o + 32 <= cap; i += 32, o += 24) {
        __m256i s = _mm256_loadu_si256((const __m256i *)(src + i));
        __m256i hi = _mm256_and_si256(_mm256_srli_epi32(s, 4), nibble);
        __m256i bad = _mm256_and_si256(_mm256_shuffle_epi8(lut_lo, _mm256_and_si256(s, nibble)),
                                       _mm256_shuffle_epi8(lut_hi, hi));
        if (!_mm256_testz_si256(bad, bad)) break;
        __m256i key = _mm256_or_si256(hi, _mm256_and_si256(_mm256_cmpeq_epi8(s, c63), _mm256_set1_epi8(8)));
        __m256i v = _mm256_add_epi8(s, _mm256_shuffle_epi8(lut_delta, key));
        v = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140));
        v = _mm256_madd_epi16(v, _mm256_set1_epi32(0x00011000));
        v = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, pack), join);
        _mm256_storeu_si256((__m256i *)(dst + o), v);
    }
    return i;
}

#endif

/* ---- Entry points ------------------------------------------------------------------------- */

#ifdef CB64_X86
/* The best vector path the CPU has, capped at `isa`. */
static int pick_isa(int isa) {
    if (isa >= CB64_ISA_AVX2 && __builtin_cpu_supports("avx2")) return CB64_ISA_AVX2;
    if (isa >= CB64_ISA_SSSE3 && __builtin_cpu_supports("ssse3")) return CB64_ISA_SSSE3;
    return CB64_ISA_SCALAR;
}
#endif

void cb64_encode_isa(const uint8_t *src, size_t n, uint8_t *dst, int alphabet, int isa) {
    size_t done = 0; /* input bytes consumed by the vector loop, a multiple of 3 */
#ifdef CB64_X86
    switch (pick_isa(isa)) {
    case CB64_ISA_AVX2: done = enc_avx2(src, n, dst, alphabet); break;
    case CB64_ISA_SSSE3: done = enc_ssse3(src, n, dst, alphabet); break;
    default: break;
    }
#else
    (void)isa;
#endif
    enc_scalar(src + done, n - done, dst + done / 3 * 4, alphabet == CB64_URLSAFE ? enc_url : enc_std);
}

void cb64_encode(const uint8_t *src, size_t n, uint8_t *dst, int alphabet) {
    cb64_encode_isa(src, n, dst, alphabet, CB64_ISA_BEST);
}

ptrdiff_t cb64_decoded_length(const uint8_t *src, size_t n) {
    if (n % 4 != 0 || n > PTRDIFF_MAX) return CB64_INVALID;
    if (n == 0) return 0;
    size_t pad = src[n - 1] != '=' ? 0 : src[n - 2] != '=' ? 1 : 2;
    return (ptrdiff_t)(n / 4 * 3 - pad);
}

ptrdiff_t cb64_decode_isa(const uint8_t *src, size_t n, uint8_t *dst, int alphabet, int isa) {
    ptrdiff_t decoded = cb64_decoded_length(src, n);
    if (decoded <= 0) return decoded; /* invalid length, or empty */
    size_t out = (size_t)decoded;
    const uint8_t *t = alphabet == CB64_URLSAFE ? dec_url : dec_std;
    size_t pad = n / 4 * 3 - out;
    size_t full = pad ? n - 4 : n; /* characters in the unpadded quanta */
    size_t done = 0;               /* characters consumed by the vector loops, a multiple of 4 */
#ifdef CB64_X86
    const struct dec_luts *L = alphabet == CB64_URLSAFE ? &luts_url : &luts_std;
    int level = pick_isa(isa);
    if (level >= CB64_ISA_AVX2) done = dec_avx2(src, full, dst, out, L);
    /* SSSE3 also takes the last 16..31 characters that AVX2's 32-byte stores cannot. */
    if (level >= CB64_ISA_SSSE3)
        done += dec_ssse3(src + done, full - done, dst + done / 4 * 3, out - done / 4 * 3, L);
#else
    (void)isa;
#endif
    /* The rest, and a block the vector loop stopped at, which then holds a bad character. */
    if (!dec_scalar(src + done, full - done, dst + done / 4 * 3, t)) return CB64_INVALID;
    if (pad) {
        /* The last quantum: "xx==" carries 8 bits, "xxx=" 16; the unused low bits must be 0. */
        const uint8_t *q = src + full;
        uint8_t *d = dst + full / 4 * 3;
        uint8_t a = t[q[0]], b = t[q[1]];
        if ((a | b) & 0xC0) return CB64_INVALID;
        d[0] = (uint8_t)(a << 2 | b >> 4);
        if (pad == 2) {
            if (b & 0x0F) return CB64_INVALID;
        } else {
            uint8_t c = t[q[2]];
            if ((c & 0xC0) || (c & 0x03)) return CB64_INVALID;
            d[1] = (uint8_t)(b << 4 | c >> 2);
        }
    }
    return decoded;
}

ptrdiff_t cb64_decode(const uint8_t *src, size_t n, uint8_t *dst, int alphabet) {
    return cb64_decode_isa(src, n, dst, alphabet, CB64_ISA_BEST);
}
