#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `node.root`: the daemon's tree. It must exist and be a directory the daemon can write; a
/// daemon never creates it (a mistyped root would otherwise run on an empty tree). `init` makes
/// it, with the directories a node uses, when an operator asks.
public enum NodeRoot {
    /// The directories a node keeps under its root, with their modes.
    public static let skeleton: [(path: String, mode: mode_t)] = [
        ("var/run", 0o750), ("var/db", 0o750), ("logs", 0o750), ("queue/cluster", 0o770),
    ]

    /// Checks that `root` is an existing directory this process can write. `tool` names the
    /// command whose `init` makes it, for the message (default: this process's, when it is a
    /// node's). Exit 78 (missing or not a directory: the configuration names the wrong place) or
    /// 77 (no permission). Everything that writes under a root (the daemons, the one-shot syncs,
    /// the agent store) asks first, so that no command creates a mistyped root.
    public static func check(_ root: String, tool: String? = nil) throws {
        let tool = tool ?? CommandLine.arguments.first.map { FileIO.baseName(of: $0) }.flatMap {
            $0 == "cl-master" || $0 == "cl-worker" ? $0 : nil
        } ?? "cl-master"
        var st = stat()
        guard stat(root, &st) == 0 else {
            let err = errno
            if err == ENOENT || err == ENOTDIR {
                throw ClusterError.config("node.root \(root) does not exist: fix node.root, or create it with '\(tool) init --root \(root)'")
            }
            throw ClusterError.refused("node.root \(root) cannot be reached: \(errnoDescription(err))")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw ClusterError.config("node.root \(root) is not a directory: fix node.root")
        }
        guard access(root, W_OK | X_OK) == 0 else {
            let err = errno
            if err == EROFS {
                throw ClusterError.refused("node.root \(root) is on a read-only file system: the node writes its logs, store and socket there")
            }
            throw ClusterError.refused("node.root \(root) is not writable by this user (uid \(geteuid())): give it to the user the node runs as (chown), or run the node as its owner")
        }
    }

    /// Creates `root` and the skeleton under it (and `extra` directories, relative to it), leaving
    /// what exists alone. Returns what it created.
    @discardableResult
    public static func initialize(_ root: String, extra: [String] = []) throws -> [String] {
        var created: [String] = []
        func make(_ path: String, _ mode: mode_t) throws {
            var st = stat()
            if stat(path, &st) == 0 {
                guard (st.st_mode & S_IFMT) == S_IFDIR else { throw ClusterError.config("\(path) exists and is not a directory") }
                return
            }
            do { try FileIO.makeDirectories(path, mode: mode) } catch let e as ClusterError {
                throw ClusterError.refused(e.message)
            }
            created.append(path)
        }
        try make(root, 0o750)
        for (relative, mode) in skeleton { try make(SafePath.join(root, relative), mode) }
        for relative in extra { try make(SafePath.join(root, relative), 0o770) }
        try check(root)
        return created
    }
}
