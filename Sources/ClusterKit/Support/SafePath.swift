#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Confinement of paths that come from outside the process (a peer's container entries and file
/// metadata, a classification read from a pipe, node names) to a root directory.
///
/// The reference writes `join(root, <peer path>)` as it comes (sync spec §9.12), so an absolute
/// path, a `..` or a symlink planted in the tree lets a peer write or delete anywhere. Every peer
/// path goes through `validateRelative` (pure syntax) and, before anything touches the disk,
/// `resolve(_:under:)` (the existing components on disk). Failures are `ClusterError.badData`
/// (exit 65) naming the path.
///
/// The checks look at the file system as it is when called. They defend against the peer, not
/// against a local user who can rename directories inside the root while we work; the root is
/// owned by the service account.
public enum SafePath {
    /// The longest relative path accepted, in UTF-8 bytes (Linux's PATH_MAX).
    public static let maxLength = 4096
    /// The longest single component, in UTF-8 bytes (NAME_MAX).
    public static let maxComponentLength = 255

    /// Checks that `path` is a plain relative path: not empty, not absolute, no NUL, no empty,
    /// `.` or `..` component, no trailing `/`, at most `maxLength` bytes. Returns the path
    /// unchanged, so a caller can write `let p = try SafePath.validateRelative(x)`.
    @discardableResult
    public static func validateRelative(_ path: String) throws -> String {
        let bytes = path.utf8
        guard !bytes.isEmpty else { throw refusal(path, "is empty") }
        guard bytes.count <= maxLength else { throw refusal(path, "is longer than \(maxLength) bytes") }
        guard bytes.first != UInt8(ascii: "/") else { throw refusal(path, "is absolute") }
        guard !bytes.contains(0) else { throw refusal(path, "contains a NUL byte") }
        var componentStart = bytes.startIndex
        var index = bytes.startIndex
        while true {
            let atEnd = index == bytes.endIndex
            if atEnd || bytes[index] == UInt8(ascii: "/") {
                let component = bytes[componentStart..<index]
                try checkComponent(component, of: path)
                if atEnd { break }
                componentStart = bytes.index(after: index)
            }
            index = bytes.index(after: index)
        }
        return path
    }

    /// Checks one path component (a file or node name): not empty, not `.` or `..`, no `/` and
    /// no NUL, at most `maxComponentLength` bytes.
    @discardableResult
    public static func validateComponent(_ name: String) throws -> String {
        let bytes = name.utf8
        guard !bytes.contains(0) else { throw refusal(name, "contains a NUL byte") }
        guard !bytes.contains(UInt8(ascii: "/")) else { throw refusal(name, "contains '/'") }
        try checkComponent(bytes[...], of: name)
        return name
    }

    private static func checkComponent(_ component: Substring.UTF8View, of path: String) throws {
        if component.isEmpty {
            throw refusal(path, path.utf8.last == UInt8(ascii: "/") ? "ends with '/'" : "has an empty component")
        }
        if component.count > maxComponentLength {
            throw refusal(path, "has a component longer than \(maxComponentLength) bytes")
        }
        if component.elementsEqual(".".utf8) { throw refusal(path, "has a '.' component") }
        if component.elementsEqual("..".utf8) { throw refusal(path, "has a '..' component") }
    }

    /// Resolves a relative path under `root` for writing or deleting it.
    ///
    /// The path is validated with `validateRelative`. Then each component that exists on disk is
    /// looked at: a symbolic link must lead (fully resolved) to a place inside the root, and a
    /// link that cannot be resolved (dangling, a loop) is refused because where it leads cannot
    /// be verified. Components that do not exist yet are fine: they will be created inside the
    /// last existing directory, which was checked.
    ///
    /// Returns an absolute path whose parent directories are the resolved real directories and
    /// whose last component is the name itself, so a rename or unlink on it acts on the name
    /// (replacing or removing a link inside the root, not its target).
    public static func resolve(_ relative: String, under root: String) throws -> String {
        try validateRelative(relative)
        return try resolveValidated(relative, realRoot: try realPath(root))
    }

    /// `resolve` for many paths under one root, whose real path (`realPath(root)`) the caller
    /// found once: resolving the root costs as much as checking the path itself.
    public static func resolve(_ relative: String, underRealRoot realRoot: String) throws -> String {
        try validateRelative(relative)
        return try resolveValidated(relative, realRoot: realRoot)
    }

    private static func resolveValidated(_ relative: String, realRoot: String) throws -> String {
        let components = relative.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var current = realRoot
        for (i, component) in components.enumerated() {
            let isLast = i == components.count - 1
            let candidate = join(current, component)
            var st = stat()
            if lstat(candidate, &st) != 0 {
                let err = errno
                if err == ENOENT || err == ENOTDIR {
                    // Nothing from here on exists: what gets created lands inside `current`.
                    var path = candidate
                    for rest in components[(i + 1)...] { path = join(path, rest) }
                    return path
                }
                throw ClusterError.io("cannot inspect \(candidate): \(errnoDescription(err))")
            }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                guard let target = try? realPath(candidate) else {
                    throw refusal(relative, "goes through the symbolic link \(candidate), which cannot be resolved")
                }
                guard isWithin(target, root: realRoot) else {
                    throw refusal(relative, "goes through the symbolic link \(candidate), which leads outside \(realRoot) (to \(target))")
                }
                if isLast { return candidate }
                current = target
            } else {
                if isLast { return candidate }
                current = candidate
            }
        }
        return current
    }

    /// Whether the absolute, normalized `path` is `root` itself or below it.
    public static func isWithin(_ path: String, root: String) -> Bool {
        if root == "/" { return path.hasPrefix("/") }
        if path == root { return true }
        return path.hasPrefix(root.hasSuffix("/") ? root : root + "/")
    }

    /// `realpath(3)`: the canonical absolute path of an existing file.
    public static func realPath(_ path: String) throws -> String {
        guard let p = realpath(path, nil) else {
            let err = errno
            if err == ENOENT { throw ClusterError.noInput("\(path) does not exist") }
            throw ClusterError.io("cannot resolve \(path): \(errnoDescription(err))")
        }
        defer { free(p) }
        return String(cString: p)
    }

    /// Joins a directory and a relative path with exactly one `/`.
    public static func join(_ directory: String, _ relative: String) -> String {
        if directory.isEmpty { return relative }
        if directory.hasSuffix("/") { return directory + relative }
        return directory + "/" + relative
    }

    static func refusal(_ path: String, _ why: String) -> ClusterError {
        ClusterError.badData("refused path \(quoted(path)): it \(why)")
    }

    /// The path in quotes with control characters made visible, for messages.
    static func quoted(_ path: String) -> String {
        var out = "\""
        for scalar in path.unicodeScalars {
            switch scalar {
            case "\0": out += "\\0"
            case "\n": out += "\\n"
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
