#ifndef CBASE64_H
#define CBASE64_H

/* Base64 (RFC 4648) in the standard (§4, "+/") and URL-safe (§5, "-_") alphabets.
 * Output is always padded; decoding is strict: any byte outside the alphabet, a length that is
 * not a multiple of 4, misplaced '=' or non-zero trailing bits in the last quantum is an error.
 * On x86_64 the work is done with SSSE3 or AVX2 (chosen at run time); elsewhere by scalar code. */

#include <stddef.h>
#include <stdint.h>

#define CB64_STANDARD 0
#define CB64_URLSAFE 1

/* Returned by the decoding functions for input that is not valid base64. */
#define CB64_INVALID (-1)

/* Bytes of padded text for `n` bytes of data: 4 * ceil(n / 3). */
size_t cb64_encoded_length(size_t n);

/* Encodes `n` bytes at `src` into `dst`, which must hold cb64_encoded_length(n) bytes.
 * Writes exactly that many bytes and nothing beyond them. */
void cb64_encode(const uint8_t *src, size_t n, uint8_t *dst, int alphabet);

/* Bytes that decoding the `n` bytes of text at `src` yields, judged from the length and the
 * trailing '=' only (the text itself is checked by cb64_decode); CB64_INVALID when `n` is not
 * a multiple of 4. */
ptrdiff_t cb64_decoded_length(const uint8_t *src, size_t n);

/* Decodes `n` bytes of text at `src` into `dst`, which must hold cb64_decoded_length(src, n)
 * bytes; never writes beyond them. Returns the number of bytes written, or CB64_INVALID (the
 * contents of `dst` are then unspecified). */
ptrdiff_t cb64_decode(const uint8_t *src, size_t n, uint8_t *dst, int alphabet);

/* The same, using at most the given instruction set (CB64_ISA_*; fewer if the CPU lacks it).
 * For tests and benchmarks: every path must give the same result. */
#define CB64_ISA_SCALAR 0
#define CB64_ISA_SSSE3 1
#define CB64_ISA_AVX2 2
#define CB64_ISA_BEST 2
void cb64_encode_isa(const uint8_t *src, size_t n, uint8_t *dst, int alphabet, int isa);
ptrdiff_t cb64_decode_isa(const uint8_t *src, size_t n, uint8_t *dst, int alphabet, int isa);

#endif
