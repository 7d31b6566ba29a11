import CRiverSystem

/// Returns freed heap pages to the operating system. After a reap that
/// removes thousands of channels, glibc would otherwise keep the memory
/// mapped and the process would stay at its high-water mark.
enum HeapTrimming {
    static func releaseFreeMemory() {
        c_river_release_free_memory()
    }
}
