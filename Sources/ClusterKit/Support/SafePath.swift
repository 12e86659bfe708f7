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
        let (directory, name) = split(relative)
        let parent = directory.isEmpty ? realRoot : try resolveDirectory(directory[...], of: relative, realRoot: realRoot)
        return try resolveEntry(name, in: parent, of: relative, realRoot: realRoot)
    }

    /// Where the directory part of a validated relative path leads: the `resolve` of every file
    /// in it is this and the file's name (`resolveEntry`), so a caller with many files in one
    /// directory resolves the directory once.
    ///
    /// Each existing component is looked at, and a symbolic link is followed (it must lead,
    /// fully resolved, inside the root); from the first component that does not exist, the rest
    /// is appended as it is. `path` names the file in messages.
    static func resolveDirectory(_ directory: Substring, of path: String, realRoot: String) throws -> String {
        let components = directory.split(separator: "/", omittingEmptySubsequences: false)
        var current = realRoot
        for (i, component) in components.enumerated() {
            let candidate = join(current, String(component))
            var st = stat()
            if lstat(candidate, &st) != 0 {
                let err = errno
                if err == ENOENT || err == ENOTDIR {
                    // Nothing from here on exists: what gets created lands inside `current`.
                    var path = candidate
                    for rest in components[(i + 1)...] { path = join(path, String(rest)) }
                    return path
                }
                throw ClusterError.io("cannot inspect \(candidate): \(errnoDescription(err))")
            }
            current = (st.st_mode & S_IFMT) == S_IFLNK ? try linkTarget(candidate, of: path, realRoot: realRoot) : candidate
        }
        return current
    }

    /// The last step of `resolve`: the name `name` in the directory `parent` (what
    /// `resolveDirectory` returned). A symbolic link there must lead inside the root too; the
    /// link itself is returned, so that a rename or unlink acts on it.
    static func resolveEntry(_ name: String, in parent: String, of path: String, realRoot: String) throws -> String {
        let candidate = join(parent, name)
        var st = stat()
        if lstat(candidate, &st) != 0 {
            let err = errno
            if err == ENOENT || err == ENOTDIR { return candidate }
            throw ClusterError.io("cannot inspect \(candidate): \(errnoDescription(err))")
        }
        if (st.st_mode & S_IFMT) == S_IFLNK { _ = try linkTarget(candidate, of: path, realRoot: realRoot) }
        return candidate
    }

    /// Where the symbolic link `link` leads, refused unless it resolves to a place inside the root.
    private static func linkTarget(_ link: String, of path: String, realRoot: String) throws -> String {
        guard let target = try? realPath(link) else {
            throw refusal(path, "goes through the symbolic link \(link), which cannot be resolved")
        }
        guard isWithin(target, root: realRoot) else {
            throw refusal(path, "goes through the symbolic link \(link), which leads outside \(realRoot) (to \(target))")
        }
        return target
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

    /// A relative path's directory part ("" for a name alone) and its last component.
    static func split(_ path: String) -> (directory: String, name: String) {
        let bytes = path.utf8
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return ("", path) }
        return (String(path[..<slash]), String(path[bytes.index(after: slash)...]))
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
