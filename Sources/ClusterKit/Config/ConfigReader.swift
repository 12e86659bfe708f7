/// Strict reading of one JSON object of the configuration: every key must be known, every value
/// of the right type and range, and errors name the full key path (exit 78).
public struct ConfigReader {
    public let path: String
    public let object: JSONObject
    private var allowed: Set<String> = []
    let source: String

    public init(_ value: JSON?, path: String, source: String) throws {
        self.path = path
        self.source = source
        switch value {
        case nil: object = JSONObject()
        case .object(let o)?: object = o
        case let other?: throw ConfigReader.error(source, path, "must be an object, got \(other.typeName)")
        }
    }

    static func error(_ source: String, _ key: String, _ why: String) -> ClusterError {
        ClusterError.config("\(source): \(key.isEmpty ? "top level" : key): \(why)", code: 3004)
    }

    func key(_ k: String) -> String { path.isEmpty ? k : "\(path).\(k)" }

    public func fail(_ k: String, _ why: String) -> ClusterError { ConfigReader.error(source, key(k), why) }

    public mutating func raw(_ k: String) -> JSON? {
        allowed.insert(k)
        if case .null? = object[k] { return nil }
        return object[k]
    }

    public mutating func section(_ k: String) throws -> ConfigReader {
        try ConfigReader(raw(k), path: key(k), source: source)
    }

    public mutating func string(_ k: String) throws -> String? {
        guard let v = raw(k) else { return nil }
        guard let s = v.stringValue else { throw fail(k, "must be a string, got \(v.typeName)") }
        return s
    }

    public mutating func requiredString(_ k: String) throws -> String {
        guard let s = try string(k) else { throw fail(k, "is required") }
        guard !s.isEmpty else { throw fail(k, "must not be empty") }
        return s
    }

    public mutating func int(_ k: String, range: ClosedRange<Int>) throws -> Int? {
        guard let v = raw(k) else { return nil }
        guard case .int(let i) = v else { throw fail(k, "must be an integer, got \(v.typeName)") }
        guard range.contains(Int(i)) else { throw fail(k, "must be from \(range.lowerBound) to \(range.upperBound), got \(i)") }
        return Int(i)
    }

    /// A number of seconds (integer or fraction) within a range.
    public mutating func seconds(_ k: String, default d: Double, range: ClosedRange<Double> = 0.001...31_536_000) throws -> Double {
        guard let v = raw(k) else { return d }
        guard let x = v.doubleValue else { throw fail(k, "must be a number of seconds, got \(v.typeName)") }
        guard range.contains(x) else { throw fail(k, "must be from \(range.lowerBound) to \(range.upperBound) seconds, got \(x)") }
        return x
    }

    public mutating func double(_ k: String, default d: Double, range: ClosedRange<Double>) throws -> Double {
        guard let v = raw(k) else { return d }
        guard let x = v.doubleValue else { throw fail(k, "must be a number, got \(v.typeName)") }
        guard range.contains(x) else { throw fail(k, "must be from \(range.lowerBound) to \(range.upperBound), got \(x)") }
        return x
    }

    public mutating func bool(_ k: String, default d: Bool) throws -> Bool {
        guard let v = raw(k) else { return d }
        guard let b = v.boolValue else { throw fail(k, "must be true or false, got \(v.typeName)") }
        return b
    }

    /// Runs a validation and reports its failure against key `k`.
    public func check(_ k: String, _ body: () throws -> Void) throws {
        do { try body() } catch let e as ClusterError { throw fail(k, e.message) }
    }

    /// Refuses keys that were never asked for.
    public func finish() throws {
        for k in object.keys where !allowed.contains(k) {
            throw ConfigReader.error(source, key(k), "unknown key")
        }
    }
}
