import ClusterKit
import Glibc
import NIOCore
import NIOPosix

/// A failed bind or connect, said in plain words with the exit status that fits: never a NIO
/// call signature (`bind(descriptor:ptr:bytes:)`) or an `(error set)` suffix.
enum SocketFailure {
    /// Why listening on `address` failed.
    static func listening(on address: Endpoint.Address, _ error: Error) -> ClusterError {
        if let e = error as? ClusterError { return e }
        let place = describe(address)
        switch errnoCode(error) {
        case EADDRINUSE?:
            return .unavailable("\(place) is already in use: another program (or another node) listens there; stop it or choose another \(setting(address))")
        case EADDRNOTAVAIL?:
            return .unavailable("cannot listen on \(address): that address is not one of this machine's (node.bind)")
        case EACCES?, EPERM?:
            if case .tcp(_, let port) = address, port < 1024 {
                return .refused("no permission to listen on \(address): ports below 1024 need root or CAP_NET_BIND_SERVICE")
            }
            return .refused("no permission to listen on \(address): check the directory's owner and mode")
        case ENOENT?:
            return .unavailable("cannot listen on \(address): its directory does not exist")
        case let code?:
            return .unavailable("cannot listen on \(address): \(errnoDescription(code))")
        case nil:
            return .unavailable("cannot listen on \(address): \(plain(error))")
        }
    }

    /// Why connecting to `address` failed (`code` is the reference's 3012).
    static func connecting(to address: Endpoint.Address, timeout: Double, _ error: Error) -> ClusterError {
        if let e = error as? ClusterError { return e }
        if case ChannelError.connectTimeout = error {
            return .timeout("no answer from \(address) within \(timeout) s: is the host up, and the port open in its firewall?", code: 3012)
        }
        if let e = error as? NIOConnectionError {
            if let first = e.connectionErrors.first { return connecting(to: address, timeout: timeout, first.error) }
            if e.dnsAError != nil || e.dnsAAAAError != nil {
                return .unavailable("cannot resolve the host name of \(address)", code: 3012)
            }
            return .unavailable("cannot connect to \(address)", code: 3012)
        }
        switch errnoCode(error) {
        case ECONNREFUSED?, ENOENT?:
            return .unavailable("nothing is listening on \(address)", code: 3012)
        case EHOSTUNREACH?, ENETUNREACH?:
            return .unavailable("\(address) is unreachable from this machine (no route)", code: 3012)
        case ETIMEDOUT?:
            return .timeout("no answer from \(address) within \(timeout) s", code: 3012)
        case EACCES?, EPERM?:
            return .refused("no permission to connect to \(address)", code: 3012)
        case let code?:
            return .unavailable("cannot connect to \(address): \(errnoDescription(code))", code: 3012)
        case nil:
            return .unavailable("cannot connect to \(address): \(plain(error))", code: 3012)
        }
    }

    private static func describe(_ address: Endpoint.Address) -> String {
        switch address {
        case .tcp: return "port \(address)"
        case .unix(let path): return "socket \(path)"
        }
    }

    private static func setting(_ address: Endpoint.Address) -> String {
        switch address {
        case .tcp: return "node.port"
        case .unix: return "node.local_socket"
        }
    }

    private static func errnoCode(_ error: Error) -> Int32? {
        (error as? IOError)?.errnoCode
    }

    /// Any other error, without the type names NIO puts in its descriptions.
    private static func plain(_ error: Error) -> String {
        if let e = error as? ChannelError {
            switch e {
            case .ioOnClosedChannel, .alreadyClosed, .eof: return "the connection closed"
            default: break
            }
        }
        return String(describing: error)
    }
}
