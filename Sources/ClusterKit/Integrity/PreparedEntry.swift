#if canImport(Glibc)
import Glibc
#endif

/// A file read ahead of the container writer, in a state from which the writer reaches exactly
/// the decision and bytes it would reach reading the file itself: the budget check needs the
/// size seen at open (its worst case) and the exact stream; a read failure is reported (or
/// thrown) where the writer would have met it.
enum PreparedEntry: Sendable {
    /// Refused when opened (vanished, unreadable, not regular, too large).
    case refused(ContainerWriter.Outcome)
    /// The whole zlib stream of a small file; `size` is its size when opened.
    case compressed([UInt8], size: Int)
    /// A read failed part-way through the file.
    case readFailed(String, size: Int)
    /// A large file, open at offset 0, for the writer to stream (and close).
    case opened(fd: Int32, size: Int)

    /// Bytes this holds in memory.
    var bufferedBytes: Int {
        if case .compressed(let stream, _) = self { return stream.count }
        return 0
    }

    /// Releases what the writer will not use.
    func discard() {
        if case .opened(let fd, _) = self { close(fd) }
    }
}
