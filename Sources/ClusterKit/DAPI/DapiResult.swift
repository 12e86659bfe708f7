/// One error of a result's `failed_items`: the reference groups failed ids by error.
public struct DapiFailure: Sendable, Hashable {
    public var code: Int
    public var message: String

    public init(code: Int, message: String) {
        self.code = code
        self.message = message
    }

    public init(_ error: ClusterError) {
        code = error.code == 0 ? 1000 : error.code
        message = error.code == 0 ? ClusterError.wazuh(1000, error.message).message : error.message
    }

    public var json: JSON { ["code": .int(Int64(code)), "message": .string(message)] }
}

/// What an operation answers, and what a fan-out merges into: the reference's
/// AffectedItemsWazuhResult without its Python tagging.
///
/// ```json
/// {"affected_items": [...], "total_affected_items": 120,
///  "failed_items": [{"error": {"code": 3021, "message": "Timeout executing API request"}, "id": ["worker-2"]}],
///  "total_failed_items": 1}
/// ```
///
/// `total_affected_items` counts every item that matched, before any offset and limit;
/// `failed_items` groups the failed ids (agent ids, or node names for a node that failed or did
/// not answer) by error, sorted by code, ids sorted numerically where they are numbers.
public struct DapiResult: Sendable, Equatable {
    public var affectedItems: [JSON]
    public var totalAffectedItems: Int
    public private(set) var failures: [DapiFailure: Set<String>] = [:]

    public init(items: [JSON] = [], total: Int? = nil) {
        affectedItems = items
        totalAffectedItems = total ?? items.count
    }

    public var totalFailedItems: Int { failures.values.reduce(0) { $0 + $1.count } }

    public var hasFailures: Bool { !failures.isEmpty }

    public mutating func addFailure(_ failure: DapiFailure, ids: some Sequence<String>) {
        failures[failure, default: []].formUnion(ids)
    }

    public mutating func addFailure(_ error: ClusterError, ids: some Sequence<String>) {
        addFailure(DapiFailure(error), ids: ids)
    }

    public mutating func addFailures(of other: DapiResult) {
        for (f, ids) in other.failures { addFailure(f, ids: ids) }
    }

    /// The failed groups in output order.
    public var failedItems: [(error: DapiFailure, ids: [String])] {
        failures.map { ($0.key, $0.value.sorted(by: DapiResult.idOrder)) }
            .sorted { a, b in a.error.code != b.error.code ? a.error.code < b.error.code : a.error.message < b.error.message }
    }

    /// Numeric ids in numeric order, before names in byte order (the reference sorts ids
    /// numerically when it can).
    static func idOrder(_ a: String, _ b: String) -> Bool {
        switch (Int(a), Int(b)) {
        case let (x?, y?): return x != y ? x < y : a < b
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return DapiSort.bytesLess(a, b)
        }
    }

    public var json: JSON {
        var o = JSONObject(minimumCapacity: 4)
        o["affected_items"] = .array(affectedItems)
        o["total_affected_items"] = .int(Int64(totalAffectedItems))
        o["failed_items"] = failedItemsJSON
        o["total_failed_items"] = .int(Int64(totalFailedItems))
        return .object(o)
    }

    /// `json` as `JSONWriter.compact` writes it.
    public var bytes: [UInt8] {
        var items = [UInt8]()
        for (i, item) in affectedItems.enumerated() {
            if i > 0 { items.append(UInt8(ascii: ",")) }
            JSONWriter.compact.write(item, into: &items)
        }
        return bytes(encodedItems: items)
    }

    /// The result's bytes with `items` (items already written, comma-separated) as its
    /// `affected_items`, in place of `affectedItems`: what `bytes` writes for the same items.
    public func bytes(encodedItems items: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(items.count + 128)
        out.append(contentsOf: "{\"affected_items\":[".utf8)
        out.append(contentsOf: items)
        out.append(contentsOf: "],\"total_affected_items\":".utf8)
        out.append(contentsOf: String(totalAffectedItems).utf8)
        out.append(contentsOf: ",\"failed_items\":".utf8)
        if failures.isEmpty {
            out.append(contentsOf: "[]".utf8)
        } else {
            JSONWriter.compact.write(failedItemsJSON, into: &out)
        }
        out.append(contentsOf: ",\"total_failed_items\":".utf8)
        out.append(contentsOf: String(totalFailedItems).utf8)
        out.append(UInt8(ascii: "}"))
        return out
    }

    var failedItemsJSON: JSON {
        .array(failedItems.map { g in ["error": g.error.json, "id": .array(g.ids.map(JSON.string))] })
    }

    /// Reads a result a node sent. A malformed one is an error, not an empty result.
    public init(json: JSON) throws {
        guard case .object(let o) = json, case .array(let items)? = o["affected_items"] else {
            throw ClusterError.wazuh(3036, "not a distributed API result: \(String(JSONWriter.compact.string(json).prefix(200)))")
        }
        affectedItems = items
        totalAffectedItems = Int(o["total_affected_items"]?.intValue ?? Int64(items.count))
        try addFailedItems(o["failed_items"]?.arrayValue ?? [])
    }

    /// Reads the `failed_items` groups a node sent.
    mutating func addFailedItems(_ groups: [JSON]) throws {
        for g in groups {
            guard let code = g["error"]?["code"]?.intValue, let ids = g["id"]?.arrayValue else {
                throw ClusterError.wazuh(3036, "a failed item without error code or ids: \(JSONWriter.compact.string(g))")
            }
            let message = g["error"]?["message"]?.stringValue ?? WazuhErrorCatalog.message(Int(code))
            addFailure(DapiFailure(code: Int(code), message: message),
                       ids: ids.map { $0.stringValue ?? JSONWriter.compact.string($0) })
        }
    }
}

/// What a node answers a request with: a result, or an error for the whole request (which
/// travels as the reference's exception JSON).
public enum DapiAnswer: Sendable, Equatable {
    case result(DapiResult)
    /// A result already in its bytes (as `DapiResult.bytes` writes it, or as a node sent it):
    /// passed on as is, and read by a merge only as far as it needs (`EncodedResultMerge`).
    case encoded([UInt8])
    case failure(ClusterError)

    public var bytes: [UInt8] {
        switch self {
        case .result(let r): return r.bytes
        case .encoded(let b): return b
        case .failure(let e): return WireError.payload(e)
        }
    }

    /// An `.encoded` answer read into a result or an error; the others as they are.
    public var decoded: DapiAnswer {
        if case .encoded(let b) = self { return DapiAnswer(bytes: b) }
        return self
    }

    /// The bytes every result begins with.
    static let resultPrefix = Array("{\"affected_items\":".utf8)

    /// An answer another node sent: kept in its bytes when it has the form of a result (read
    /// later, as far as a merge needs), read at once when not (an error).
    public static func received(_ bytes: [UInt8]) -> DapiAnswer {
        bytes.starts(with: resultPrefix) ? .encoded(bytes) : DapiAnswer(bytes: bytes)
    }

    /// Reads an answer: the exception JSON of an error, or a result.
    public init(bytes: [UInt8]) {
        let json: JSON
        // The byte-level reader (as strict as jansson, about twice as fast here): a fan-out
        // parses every node's answer.
        do { json = try bytes.withUnsafeBytes { try JSONScanner.parse($0) } } catch {
            self = .failure(ClusterError.wazuh(3036, String(decoding: bytes.prefix(200), as: UTF8.self)))
            return
        }
        if let e = WireError.decode(json: json) { self = .failure(e); return }
        do { self = .result(try DapiResult(json: json)) } catch let e as ClusterError { self = .failure(e) } catch {
            self = .failure(ClusterError.wazuh(3036, "\(error)"))
        }
    }
}
