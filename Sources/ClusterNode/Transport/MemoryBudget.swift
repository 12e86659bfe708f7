import NIOConcurrencyHelpers

/// Bytes a node holds on behalf of its peers, across every connection of one listener: frames
/// still arriving, divided messages being reassembled, strings not yet claimed.
///
/// Each connection has caps of its own, but those multiply by `max_connections`; this is the
/// bound on their sum. A connection that would take the total past the limit is closed, and the
/// others keep what they hold.
public final class MemoryBudget: Sendable {
    public let limit: Int
    private let used = NIOLockedValueBox(0)

    public init(limit: Int) {
        self.limit = limit
    }

    /// Takes `bytes` from the budget; false (and nothing taken) when that would pass the limit.
    public func reserve(_ bytes: Int) -> Bool {
        precondition(bytes >= 0)
        return used.withLockedValue { u in
            guard u + bytes <= limit else { return false }
            u += bytes
            return true
        }
    }

    public func release(_ bytes: Int) {
        precondition(bytes >= 0)
        used.withLockedValue { u in
            u -= bytes
            assert(u >= 0, "released more than was reserved")
            if u < 0 { u = 0 }
        }
    }

    public var inUse: Int { used.withLockedValue { $0 } }
}
