import ClusterKit
import Glibc

/// sd_notify(3) without libsystemd: one datagram to `$NOTIFY_SOCKET` (a path, or an abstract
/// socket written `@name`). `READY=1` once the node serves, `RELOADING=1` and `READY=1` around a
/// reload (SIGHUP), `STOPPING=1` at shutdown. Nothing is sent when the variable is unset, so a
/// node run by hand or by a test does nothing here.
public enum SystemdNotifier {
    /// The socket, read once: a hook the node spawns must not reach it through a changed variable.
    nonisolated(unsafe) private static let socketPath: String? = {
        guard let p = getenv("NOTIFY_SOCKET") else { return nil }
        let s = String(cString: p)
        return s.isEmpty ? nil : s
    }()

    public static var isEnabled: Bool { socketPath != nil }

    public static func ready() { send("READY=1") }
    public static func stopping() { send("STOPPING=1") }

    /// `RELOADING=1` with the monotonic time systemd's notify-reload expects beside it.
    public static func reloading() {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        send("RELOADING=1\nMONOTONIC_USEC=\(UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000)")
    }

    /// Sends `state` (newline-separated assignments). Failures are ignored, as sd_notify's are
    /// by its callers: the manager may be gone, the node still serves.
    public static func send(_ state: String) {
        guard let path = socketPath else { return }
        var name = Array(path.utf8)
        if name.first == UInt8(ascii: "@") { name[0] = 0 }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard name.count < capacity else { return }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: name)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + name.count)
        let message = Array(state.utf8)
        _ = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
        }
    }
}
