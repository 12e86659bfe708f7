#if canImport(Glibc)
import Glibc
#endif

/// Where a container's entries wait until the whole container has verified: one private
/// directory (mode 0700, made with `mkdtemp`) holding one numbered file per entry. Nothing in
/// the target tree is touched while entries arrive, so a corrupt or truncated container leaves
/// no trace once the directory is removed.
///
/// In discard mode (dry runs) nothing is written at all; entries are only counted.
final class StagingArea: ContainerEntryConsumer {
    struct Staged {
        var file: String
        var size: Int
    }

    let directory: String?
    private(set) var staged: [String: Staged] = [:]
    private var fd: Int32 = -1
    private var currentPath = ""
    private var currentFile = ""
    private var currentSize = 0
    private var counter = 0

    /// Makes the staging directory inside `parent` (which must exist), or nothing when `discard`.
    init(parent: String, discard: Bool) throws {
        if discard {
            directory = nil
            return
        }
        var template = Array(SafePath.join(parent, ".cl-integrity-staging-XXXXXX").utf8CString)
        let made: String? = template.withUnsafeMutableBufferPointer { buf in
            guard let p = mkdtemp(buf.baseAddress!) else { return nil }
            return String(cString: p)
        }
        guard let made else {
            throw ClusterError.io("cannot create a staging directory in \(parent): \(errnoDescription(errno))")
        }
        directory = made
    }

    func beginEntry(path: String) throws {
        currentPath = path
        currentSize = 0
        guard let directory else { return }
        counter += 1
        currentFile = SafePath.join(directory, String(counter))
        fd = open(currentFile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ClusterError.io("cannot create \(currentFile): \(errnoDescription(errno))") }
    }

    func entryData(_ bytes: UnsafeRawBufferPointer) throws {
        currentSize += bytes.count
        guard fd >= 0 else { return }
        do {
            try FileIO.writeFully(fd, bytes)
        } catch let e as ClusterError {
            throw ClusterError.io("cannot stage \(SafePath.quoted(currentPath)): \(e.message)")
        }
    }

    func endEntry() throws {
        if fd >= 0 {
            let rc = close(fd)
            fd = -1
            guard rc == 0 else { throw ClusterError.io("cannot stage \(SafePath.quoted(currentPath)): \(errnoDescription(errno))") }
        }
        staged[currentPath] = Staged(file: currentFile, size: currentSize)
    }

    /// Makes every staged byte durable before anything is renamed into place: one `syncfs` of
    /// the staging file system, or one `fsync` per staged file.
    func makeDurable(perFile: Bool) throws {
        guard let directory else { return }
        if perFile {
            for s in staged.values {
                let f = open(s.file, O_RDONLY | O_CLOEXEC)
                guard f >= 0 else { throw ClusterError.io("cannot open \(s.file): \(errnoDescription(errno))") }
                defer { close(f) }
                guard fsync(f) == 0 else { throw ClusterError.io("cannot sync \(s.file): \(errnoDescription(errno))") }
            }
        } else {
            let f = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard f >= 0 else { throw ClusterError.io("cannot open \(directory): \(errnoDescription(errno))") }
            defer { close(f) }
            guard FileIO.syncFileSystem(f) else { throw ClusterError.io("cannot sync \(directory): \(errnoDescription(errno))") }
        }
    }

    /// Removes the staging directory and whatever is left in it.
    func remove() {
        if fd >= 0 { close(fd); fd = -1 }
        if let directory { FileIO.removeTree(directory) }
    }
}
