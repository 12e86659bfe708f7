#if canImport(Glibc)
import Glibc
#endif

/// The directories of a root that an apply checks and writes into, each resolved once: the
/// files of one directory share the checks of its path (`SafePath.resolveDirectory`), and only
/// their own names are looked at. Files of an apply come a directory at a time, so this costs
/// one entry per directory, not per file, and the directory being written stays open.
///
/// Two caches: what validation resolved (the tree as it is before anything changes), and the
/// directories the writes made and checked again (`prepare`). A write that replaces a symbolic
/// link empties the second, since a directory reached through that link may now be elsewhere.
struct TargetDirectories {
    /// A directory the writes go into.
    struct Prepared {
        var path: String
        /// Made by this apply and holding nothing but the files renamed into it since: a name
        /// in it exists only if this apply put it there.
        var fresh: Bool
    }

    let realRoot: String
    private var resolved: [String: String] = [:]
    private var prepared: [String: Prepared] = [:]
    private var openKey: String?
    private var openFD: Int32 = -1

    init(realRoot: String) {
        self.realRoot = realRoot
    }

    /// `SafePath.resolve(path, underRealRoot:)` of a path that passed `validateRelative`.
    mutating func resolve(_ path: String) throws -> String {
        let (dir, name) = SafePath.split(path)
        let parent: String
        if dir.isEmpty {
            parent = realRoot
        } else if let known = resolved[dir] {
            parent = known
        } else {
            parent = try SafePath.resolveDirectory(dir[...], of: path, realRoot: realRoot)
            resolved[dir] = parent
        }
        return try SafePath.resolveEntry(name, in: parent, of: path, realRoot: realRoot)
    }

    /// The real directory that `path`'s file goes into, made (with parents, `mode`) if needed
    /// and resolved again once made (nothing on the way may lead out of the root), and open:
    /// `fd` stays valid until the next call or `close`.
    mutating func prepare(_ path: String, mode: mode_t) throws -> (directory: Prepared, fd: Int32, name: String) {
        let (dir, name) = SafePath.split(path)
        if openKey == dir, let known = prepared[dir] { return (known, openFD, name) }
        let directory: Prepared
        if let known = prepared[dir] {
            directory = known
        } else if dir.isEmpty {
            directory = Prepared(path: realRoot, fresh: false)
            prepared[dir] = directory
        } else {
            let parent = try SafePath.resolveDirectory(dir[...], of: path, realRoot: realRoot)
            var st = stat()
            let made = lstat(parent, &st) != 0
            try FileIO.makeDirectories(parent, mode: mode)
            // The parents may have just been created: check again that nothing leads out.
            guard try SafePath.resolveDirectory(dir[...], of: path, realRoot: realRoot) == parent else {
                throw ClusterError.badData("refused path \(SafePath.quoted(path)): it changed while being written")
            }
            if made {
                // Its parents made before now hold a directory that no file was renamed into.
                var above = dir[...]
                while let slash = above.utf8.lastIndex(of: UInt8(ascii: "/")) {
                    above = above[..<slash]
                    prepared[String(above)]?.fresh = false
                }
            }
            directory = Prepared(path: parent, fresh: made)
            prepared[dir] = directory
        }
        close()
        let fd = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ClusterError.io("cannot open \(directory.path): \(errnoDescription(errno))") }
        openKey = dir
        openFD = fd
        return (directory, fd, name)
    }

    /// A write replaced a symbolic link: directories made or checked before are checked again.
    mutating func forgetPrepared() {
        close()
        prepared.removeAll()
    }

    /// Closes the directory left open.
    mutating func close() {
        if openFD >= 0 { Glibc.close(openFD) }
        openFD = -1
        openKey = nil
    }
}
