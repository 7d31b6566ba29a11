#ifndef C_RIVER_SYSTEM_H
#define C_RIVER_SYSTEM_H

#if defined(__linux__)
#include <malloc.h>
#include <sys/epoll.h>
#endif

/// System calls Swift does not import on its own: epoll (for river-bench)
/// and malloc_trim.

/// Returns freed heap memory to the operating system where the C library can
/// (glibc's malloc_trim); a no-op elsewhere.
static inline void c_river_release_free_memory(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

#endif
