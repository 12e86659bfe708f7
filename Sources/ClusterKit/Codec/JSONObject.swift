/// A JSON object that keeps its keys in insertion order, as Python's dicts and jansson do.
///
/// Equality ignores order: two objects are equal when they map the same keys to equal values,
/// which is how the reference's snapshots must be compared (their order follows readdir).
public struct JSONObject: Sendable, Equatable, Sequence {
    public private(set) var keys: [String] = []
    private var storage: [String: JSON] = [:]

    public init() {}

    public init(minimumCapacity: Int) {
        keys.reserveCapacity(minimumCapacity)
        storage.reserveCapacity(minimumCapacity)
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    public subscript(key: String) -> JSON? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public func contains(_ key: String) -> Bool { storage[key] != nil }

    public var values: [JSON] { keys.map { storage[$0]! } }

    public func makeIterator() -> AnyIterator<(key: String, value: JSON)> {
        var i = 0
        let keys = self.keys, storage = self.storage
        return AnyIterator {
            guard i < keys.count else { return nil }
            defer { i += 1 }
            return (keys[i], storage[keys[i]]!)
        }
    }

    /// Visits the entries in order (without the iterator's allocation).
    public func forEachEntry(_ body: (String, JSON) throws -> Void) rethrows {
        for k in keys { try body(k, storage[k]!) }
    }

    /// Removes several keys at once (one pass over the key order, not one per key).
    public mutating func removeKeys(_ remove: Set<String>) {
        guard !remove.isEmpty else { return }
        for k in remove { storage.removeValue(forKey: k) }
        keys.removeAll { remove.contains($0) }
    }

    public static func == (a: JSONObject, b: JSONObject) -> Bool { a.storage == b.storage }
}
