import ClusterKit
import Foundation
import Glibc

/// The pid file the reference's tools look for before they use the local socket:
/// `var/run/wazuh-clusterd-<pid>.pid` under the node root, holding the pid and a newline, mode
/// 0640 (the reference's `create_pid`). Without it `cluster_control` and the API's status checks
/// say the cluster is not running. A daemon (`run`, master or worker) writes it once its local
/// socket serves and removes it when it stops: a normal end, SIGTERM or SIGINT. Files left by a
/// daemon that was killed are removed at the next start when their process is gone.
struct PidFile: Sendable {
    static let prefix = "wazuh-clusterd-"
    let path: String

    static func create(_ context: NodeContext) throws -> PidFile {
        let dir = context.path("var/run")
        removeStale(in: dir)
        let pid = getpid()
        let path = (dir as NSString).appendingPathComponent("\(prefix)\(pid).pid")
        try FileSystem.writeAtomically(path, Array("\(pid)\n".utf8), mode: 0o640)
        chmod(path, 0o640)
        return PidFile(path: path)
    }

    func remove() { unlink(path) }

    /// Removes `wazuh-clusterd-<pid>.pid` files whose process no longer exists.
    static func removeStale(in dir: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(".pid") {
            let digits = name.dropFirst(prefix.count).dropLast(4)
            guard let pid = Int32(digits), pid > 0, pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink((dir as NSString).appendingPathComponent(name)) }
        }
    }
}
