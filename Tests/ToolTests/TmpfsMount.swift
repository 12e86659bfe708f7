import Foundation

/// A small tmpfs mounted over a directory for one test (we run as root there), so that a node's
/// root can be filled to the last byte. Unmounted by the test's `defer`, or at the latest when
/// it is released, whatever happened; lazily if a process still holds it.
final class TmpfsMount: @unchecked Sendable {
    let path: String
    private var mounted = false

    /// Whether this process may mount (root); the tests that need it are skipped otherwise.
    static var available: Bool { geteuid() == 0 }

    init(_ url: URL, megabytes: Int) throws {
        path = url.path
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let r = try ToolRunner.shell("mount -t tmpfs -o size=\(megabytes)m,mode=0755 tmpfs '\(path)'")
        guard r.status == 0 else { throw HarnessTimeout(description: "cannot mount a tmpfs on \(path): \(r.stderr)") }
        mounted = true
    }

    deinit { unmount() }

    func unmount() {
        guard mounted else { return }
        mounted = false
        if (try? ToolRunner.shell("umount '\(path)'"))?.status != 0 {
            _ = try? ToolRunner.shell("umount -l '\(path)'")
        }
    }

    /// Bytes a non-privileged writer could still write.
    var freeBytes: Int {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return -1 }
        return Int(s.f_bavail) * Int(s.f_frsize)
    }

    /// Fills the file system with `name`, leaving about `leaving` bytes free.
    func fill(_ name: String = "filler", leaving: Int = 0) throws {
        let target = (path as NSString).appendingPathComponent(name)
        let size = max(0, freeBytes - leaving)
        // Past the end, head fails with ENOSPC: the file system is then full to the last page.
        _ = try ToolRunner.shell("head -c \(size) /dev/zero > '\(target)'")
    }

    /// Makes room again.
    func unfill(_ name: String = "filler") {
        try? FileManager.default.removeItem(atPath: (path as NSString).appendingPathComponent(name))
    }
}
