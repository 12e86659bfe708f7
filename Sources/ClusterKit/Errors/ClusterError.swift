#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The one error type of the toolchain.
///
/// `code` is the reference's numeric error code where one applies (3020 request timeout, 3025 bad
/// token, 3028 duplicate worker name, ...) so that errors we put on the wire decode to the right
/// message on a reference peer; our own failures without a reference code use `code == 0`.
/// `exit` is the sysexits status a front end should leave with.
public struct ClusterError: Error, Sendable, CustomStringConvertible, Equatable {
    public var code: Int
    public var message: String
    public var exit: ExitStatus
    /// The reference's `extra_message`: what goes on the wire besides the code (the receiver
    /// rebuilds the base message from the code).
    public var extra: String?

    public init(code: Int = 0, _ message: String, exit: ExitStatus, extra: String? = nil) {
        self.code = code
        self.message = message
        self.exit = exit
        self.extra = extra
    }

    public var description: String {
        code == 0 ? message : "Error \(code) - \(message)"
    }

    // MARK: constructors for the common classes of failure

    public static func usage(_ message: String) -> ClusterError {
        ClusterError(message, exit: .usage)
    }
    public static func badData(_ message: String, code: Int = 0) -> ClusterError {
        ClusterError(code: code, message, exit: .dataError)
    }
    public static func noInput(_ message: String) -> ClusterError {
        ClusterError(message, exit: .noInput)
    }
    public static func unavailable(_ message: String, code: Int = 0) -> ClusterError {
        ClusterError(code: code, message, exit: .unavailable)
    }
    public static func internalError(_ message: String, code: Int = 0) -> ClusterError {
        ClusterError(code: code, message, exit: .software)
    }
    public static func io(_ message: String) -> ClusterError {
        ClusterError(message, exit: .ioError)
    }
    public static func timeout(_ message: String, code: Int = 3020) -> ClusterError {
        ClusterError(code: code, message, exit: .tempFail)
    }
    public static func refused(_ message: String, code: Int = 0) -> ClusterError {
        ClusterError(code: code, message, exit: .noPermission)
    }
    public static func config(_ message: String, code: Int = 0) -> ClusterError {
        ClusterError(code: code, message, exit: .config)
    }

    /// Builds the error a reference code stands for, with the reference's base message and an
    /// optional extra message appended as the reference does (`"<base>: <extra>"`).
    public static func wazuh(_ code: Int, _ extra: String? = nil) -> ClusterError {
        let entry = WazuhErrorCatalog.entry(code)
        var text = entry.message
        if let extra, !extra.isEmpty { text += ": \(extra)" }
        return ClusterError(code: code, text, exit: entry.exit, extra: extra)
    }
}

/// POSIX errno text, for I/O failures.
public func errnoDescription(_ err: Int32) -> String {
    guard let s = strerror(err) else { return "errno \(err)" }
    return String(cString: s)
}
