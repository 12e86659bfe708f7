/// Strict reading of one JSON object of the configuration against `ConfigSchema`: every key must
/// be known (an unknown one is refused when its section is opened, before anything else is
/// checked, with the closest known key suggested), every value of the key's type and range, and
/// a key left out takes the schema's default. Errors name the full key path (exit 78).
public struct ConfigReader {
    public let path: String
    public let object: JSONObject
    let source: String
    /// Every key path the reader was asked for, present or not (see `ClusterConfig.keysRead`).
    let log: ConfigKeyLog?

    public init(_ value: JSON?, path: String, source: String) throws {
        try self.init(value, path: path, source: source, log: nil)
    }

    init(_ value: JSON?, path: String, source: String, log: ConfigKeyLog?) throws {
        self.path = path
        self.source = source
        self.log = log
        switch value {
        case nil: object = JSONObject()
        case .object(let o)?: object = o
        case let other?: throw ConfigReader.error(source, path, "must be an object, got \(other.typeName)")
        }
        for k in object.keys where ConfigSchema.key(key(k)) == nil {
            throw ConfigReader.unknownKey(source, section: path, name: k)
        }
    }

    static func error(_ source: String, _ key: String, _ why: String) -> ClusterError {
        ClusterError.config("\(source): \(key.isEmpty ? "top level" : key): \(why)", code: 3004)
    }

    static func unknownKey(_ source: String, section: String, name: String) -> ClusterError {
        let full = section.isEmpty ? name : "\(section).\(name)"
        if let near = ConfigSchema.suggestion(for: name, in: section) {
            return error(source, full, "unknown key; did you mean \(near)?")
        }
        let known = ConfigSchema.children(of: section).map(\.name).joined(separator: ", ")
        return error(source, full, "unknown key (\(section.isEmpty ? "the top level" : section) takes \(known))")
    }

    func key(_ k: String) -> String { path.isEmpty ? k : "\(path).\(k)" }

    /// The schema's entry for `k`; a key missing from the schema is a programming error.
    func schema(_ k: String) -> ConfigKey {
        guard let entry = ConfigSchema.key(key(k)) else { preconditionFailure("\(key(k)) is not in ConfigSchema") }
        log?.keys.insert(entry.path)
        return entry
    }

    public func fail(_ k: String, _ why: String) -> ClusterError { ConfigReader.error(source, key(k), why) }

    public func raw(_ k: String) -> JSON? {
        _ = schema(k)
        if case .null? = object[k] { return nil }
        return object[k]
    }

    public func section(_ k: String) throws -> ConfigReader {
        try ConfigReader(raw(k), path: key(k), source: source, log: log)
    }

    public func string(_ k: String) throws -> String? {
        guard let v = raw(k) else { return schema(k).defaultValue?.stringValue }
        guard let s = v.stringValue else { throw fail(k, "must be a string, got \(v.typeName)") }
        return s
    }

    /// A string or a list of strings (nil when left out); an empty list or string is refused.
    public func strings(_ k: String) throws -> [String]? {
        guard let v = raw(k) else { return nil }
        let items: [JSON]
        switch v {
        case .string: items = [v]
        case .array(let a): items = a
        default: throw fail(k, "must be a string or a list of strings, got \(v.typeName)")
        }
        guard !items.isEmpty else { throw fail(k, "must not be an empty list") }
        guard items.count <= 64 else { throw fail(k, "at most 64 entries, got \(items.count)") }
        return try items.map { item in
            guard let s = item.stringValue, !s.isEmpty else { throw fail(k, "every entry must be a non-empty string") }
            return s
        }
    }

    public func requiredString(_ k: String) throws -> String {
        guard let s = try string(k) else { throw fail(k, "is required") }
        guard !s.isEmpty else { throw fail(k, "must not be empty") }
        return s
    }

    public func int(_ k: String) throws -> Int? {
        let entry = schema(k)
        guard let v = raw(k) else { return entry.defaultValue?.intValue.map { Int($0) } }
        guard case .int(let i) = v else { throw fail(k, "must be an integer, got \(v.typeName)") }
        if let range = entry.range, !range.contains(Double(i)) {
            throw fail(k, "must be from \(ConfigReader.text(range.lowerBound)) to \(ConfigReader.text(range.upperBound)), got \(i)")
        }
        return Int(i)
    }

    /// A number of seconds (integer or fraction).
    public func seconds(_ k: String) throws -> Double {
        try number(k, unit: " seconds", what: "a number of seconds")
    }

    public func double(_ k: String) throws -> Double {
        try number(k, unit: "", what: "a number")
    }

    func number(_ k: String, unit: String, what: String) throws -> Double {
        let entry = schema(k)
        guard let v = raw(k) else {
            guard let d = entry.defaultValue?.doubleValue else { preconditionFailure("\(entry.path) has no numeric default") }
            return d
        }
        guard let x = v.doubleValue else { throw fail(k, "must be \(what), got \(v.typeName)") }
        if let range = entry.range, !range.contains(x) {
            throw fail(k, "must be from \(ConfigReader.text(range.lowerBound)) to \(ConfigReader.text(range.upperBound))\(unit), got \(ConfigReader.text(x))")
        }
        return x
    }

    public func bool(_ k: String) throws -> Bool {
        let entry = schema(k)
        guard let v = raw(k) else {
            guard let d = entry.defaultValue?.boolValue else { preconditionFailure("\(entry.path) has no boolean default") }
            return d
        }
        guard let b = v.boolValue else { throw fail(k, "must be true or false, got \(v.typeName)") }
        return b
    }

    /// Runs a validation and reports its failure against key `k`.
    public func check(_ k: String, _ body: () throws -> Void) throws {
        do { try body() } catch let e as ClusterError { throw fail(k, e.message) }
    }

    static func text(_ x: Double) -> String {
        x.rounded() == x && abs(x) < 9e15 ? String(Int64(x)) : String(x)
    }
}

/// The key paths a reading asked for.
final class ConfigKeyLog: @unchecked Sendable {
    var keys: Set<String> = []
}

extension ConfigReader {
    /// An integer key that has a default in the schema.
    public func integer(_ k: String) throws -> Int {
        guard let i = try int(k) else { preconditionFailure("\(key(k)) has no integer default") }
        return i
    }
}
