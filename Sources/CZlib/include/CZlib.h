#ifndef C_ZLIB_H
#define C_ZLIB_H

#include <zlib.h>

/// zlib's init functions are macros, which Swift does not import: these
/// wrap them for raw deflate streams (no zlib or gzip header), as
/// permessage-deflate (RFC 7692) carries them.

/// A raw deflate compressor with a window of 2^window_bits bytes (9...15).
static inline int c_zlib_deflate_init_raw(z_streamp stream, int level, int window_bits, int mem_level) {
    return deflateInit2(stream, level, Z_DEFLATED, -window_bits, mem_level, Z_DEFAULT_STRATEGY);
}

/// A raw deflate decompressor accepting windows up to 2^15 bytes.
static inline int c_zlib_inflate_init_raw(z_streamp stream) {
    return inflateInit2(stream, -15);
}

#endif
