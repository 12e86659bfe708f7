import ClusterKit
import Foundation

/// Writes a secret to a file that only its owner (and, when asked, one group) can read,
/// atomically and never over an existing file unless asked.
public enum KeyFileWriter {
    /// Writes `text` to `path`: mode 0600, or 0640 owned by `group` (a name or a number) so that a
    /// service running as that group can read it.
    public static func write(_ text: String, to path: String, overwrite: Bool, group: String? = nil) throws {
        if !overwrite && FileManager.default.fileExists(atPath: path) {
            throw ClusterError(code: 0, "\(path) already exists; give --force to replace it", exit: .cannotCreate)
        }
        let gid = try group.map(groupID)
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = (dir.isEmpty ? "." : dir) + "/.\((path as NSString).lastPathComponent).\(getpid()).tmp"
        let mode: mode_t = gid == nil ? 0o600 : 0o640
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else {
            let e = errno
            throw ClusterError(code: 0, "cannot create \(path): \(errnoDescription(e))", exit: e == EACCES || e == EPERM ? .noPermission : .cannotCreate)
        }
        if let gid {
            // The mode is set again after the group: umask may have taken bits, and chown may clear some.
            guard fchown(fd, uid_t.max, gid) == 0, fchmod(fd, mode) == 0 else {
                let e = errno
                close(fd)
                unlink(tmp)
                throw ClusterError(code: 0, "cannot give \(path) to group \(group!): \(errnoDescription(e))", exit: .noPermission)
            }
        }
        let bytes = Array(text.utf8)
        let ok = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) == $0.count } && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw ClusterError.io("cannot write \(path): \(errnoDescription(e))")
        }
    }

    /// A group name or number, as chgrp(1) takes it.
    static func groupID(_ name: String) throws -> gid_t {
        if let entry = getgrnam(name) { return entry.pointee.gr_gid }
        if let n = gid_t(name), getgrgid(n) != nil { return n }
        throw ClusterError.usage("no group named \(name) (create it first, e.g. groupadd --system \(name))")
    }
}

extension KeyFileWriter {
    /// The system's group names, for completion.
    public static func groupNames() -> [String] {
        var names = [String]()
        setgrent()
        while let g = getgrent() { names.append(String(cString: g.pointee.gr_name)) }
        endgrent()
        return names
    }
}
