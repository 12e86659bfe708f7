/// The reference's result encoding (dapi §2): the JSON its `WazuhJSONEncoder` writes for a
/// result or an exception, and what its `as_wazuh_object` reads back. Used in both directions of
/// a mixed cluster: to answer a reference node's code reference (`ReferenceCallTable`), and to
/// read the answer of a reference node we sent one to.
///
/// Written as Python's `json.dumps` lays it out (`JSONWriter.python`), keys in the order the
/// reference's `to_dict` puts them:
///
/// ```json
/// {"__wazuh_result__": {"__class__": "AffectedItemsWazuhResult", "__object__": {
///   "affected_items": [...], "sort_fields": null, "sort_casting": ["int"], "sort_ascending": [true],
///   "total_affected_items": 1, "total_failed_items": 0, "dikt": {},
///   "all_msg": "...", "some_msg": "...", "none_msg": "...",
///   "failed_items_keys": [], "failed_items_values": []}}}
/// {"__wazuh_result__": {"__class__": "WazuhResult", "__object__": {"str_priority": null, "result": {...}}}}
/// ```
public enum ReferenceEncoding {
    /// The three messages of an AffectedItemsWazuhResult (all, some, none).
    public struct Messages: Sendable, Equatable {
        public var all: String
        public var some: String
        public var none: String
        public init(all: String, some: String, none: String) {
            self.all = all
            self.some = some
            self.none = none
        }
    }

    /// The exception classes `wazuh.core.exception` defines that a decoder accepts.
    public static let exceptionClasses: Set<String> = [
        "WazuhException", "WazuhError", "WazuhInternalError", "WazuhClusterError", "WazuhPermissionError",
        "WazuhResourceNotFound", "WazuhTooManyRequests", "WazuhNotAcceptable", "WazuhHAPHelperError",
    ]

    /// The keys `AffectedItemsWazuhResult.decode_json` reads (a missing one is a KeyError there).
    public static let affectedItemsKeys = [
        "affected_items", "sort_fields", "sort_casting", "sort_ascending", "total_affected_items", "total_failed_items",
        "dikt", "all_msg", "some_msg", "none_msg", "failed_items_keys", "failed_items_values",
    ]

    // MARK: writing

    /// An AffectedItemsWazuhResult with `result`'s items, total and failed items.
    public static func affectedItems(_ result: DapiResult, messages: Messages, sortCasting: [String] = ["int"]) -> JSON {
        var o = JSONObject(minimumCapacity: 12)
        o["affected_items"] = .array(result.affectedItems)
        o["sort_fields"] = .null
        o["sort_casting"] = .array(sortCasting.map(JSON.string))
        o["sort_ascending"] = [true]
        o["total_affected_items"] = .int(Int64(result.totalAffectedItems))
        o["total_failed_items"] = .int(Int64(result.totalFailedItems))
        o["dikt"] = .object(JSONObject())
        o["all_msg"] = .string(messages.all)
        o["some_msg"] = .string(messages.some)
        o["none_msg"] = .string(messages.none)
        let groups = result.failedItems
        o["failed_items_keys"] = .array(groups.map { g in
            // As the encoder writes a failed item's key: object first, then class.
            let e = exceptionJSON(code: g.error.code, message: g.error.message)
            var k = JSONObject(minimumCapacity: 2)
            k["__object__"] = e["__object__"] ?? .null
            k["__class__"] = e["__class__"] ?? .null
            return .object(k)
        })
        o["failed_items_values"] = .array(groups.map { .array($0.ids.map(JSON.string)) })
        return ["__wazuh_result__": ["__class__": "AffectedItemsWazuhResult", "__object__": .object(o)]]
    }

    /// A WazuhResult around `dict` (what the reference makes of a function returning a dict).
    public static func wazuhResult(_ dict: JSON) -> JSON {
        ["__wazuh_result__": ["__class__": "WazuhResult", "__object__": ["str_priority": .null, "result": dict]]]
    }

    /// Codes a reference node can rebuild (its `ERRORS` table has them): ours (3100 and up) are
    /// not among them, and a reference decoder fails on a code it does not know.
    public static func referenceKnows(_ code: Int) -> Bool { code > 0 && code < 3100 }

    /// `{"__class__": C, "__object__": {...}}` for an error, in a form a reference node decodes:
    /// a code it knows travels as itself; one of ours travels as 3009 with `cmd_error` set, so
    /// that the receiver shows our message verbatim instead of failing to decode it.
    static func exceptionJSON(code: Int, message: String) -> JSONObject {
        let base = WazuhErrorCatalog.message(code)
        var error: ClusterError
        if referenceKnows(code) {
            let extra = message == base ? nil : (message.hasPrefix(base + ": ") ? String(message.dropFirst(base.count + 2)) : message)
            error = ClusterError.wazuh(code, extra)
        } else {
            error = ClusterError.wazuh(3009, "Error \(code) - \(message)")
        }
        let wrapped = WireError.json(error)
        guard case .object(var inner)? = wrapped["__wazuh_exception__"] else { return JSONObject() }
        if !referenceKnows(code), case .object(var obj)? = inner["__object__"] {
            obj["cmd_error"] = true
            inner["__object__"] = .object(obj)
        }
        return inner
    }

    /// An error as the reference's exception JSON, decodable by a reference node.
    public static func error(_ e: ClusterError) -> JSON {
        let code = e.code == 0 ? 1000 : e.code
        if referenceKnows(code) { return WireError.json(e) }
        return ["__wazuh_exception__": .object(exceptionJSON(code: code, message: e.message))]
    }

    // MARK: reading

    /// What `as_wazuh_object` makes of a reference answer.
    public enum Value: Sendable, Equatable {
        /// An AffectedItemsWazuhResult: items, total, failed items, messages.
        case affectedItems(DapiResult, Messages)
        /// A WazuhResult: its dictionary.
        case wazuhResult(JSON)
        /// A WazuhException.
        case exception(ClusterError)
        /// Anything else (a plain value the function returned).
        case plain(JSON)
    }

    /// Reads an answer the way the reference's `json.loads(..., object_hook=as_wazuh_object)`
    /// does: the tagged objects become results and exceptions; a tagged object that does not
    /// decode is WazuhInternalError 1000 "Wazuh object cannot be decoded from JSON", as there.
    /// Nothing is ever imported or looked up: a `__callable__` in an answer is refused.
    public static func decode(_ bytes: [UInt8]) -> Value {
        let json: JSON
        do { json = try JSON.parse(bytes, source: "the reference node's answer") } catch {
            // The reference's own `dapi_err` carries `str(e)`: plain text, not JSON.
            return .exception(ClusterError.wazuh(3103, String(decoding: bytes.prefix(500), as: UTF8.self)))
        }
        return decode(json: json)
    }

    public static func decode(json: JSON) -> Value {
        do { return try decodeValue(json) } catch let e as ClusterError { return .exception(e) } catch {
            return .exception(ClusterError.wazuh(1000, "\(error)"))
        }
    }

    static func undecodable(_ v: JSON) -> ClusterError {
        ClusterError.wazuh(1000, "Wazuh object cannot be decoded from JSON \(String(JSONWriter.compact.string(v).prefix(300)))")
    }

    static func decodeValue(_ v: JSON) throws -> Value {
        guard case .object(let o) = v else { return .plain(v) }
        if let r = o["__wazuh_result__"] {
            guard let cls = r["__class__"]?.stringValue, let obj = r["__object__"], case .object(let body) = obj else { throw undecodable(v) }
            switch cls {
            case "WazuhResult":
                guard let result = body["result"] else { throw undecodable(v) }
                return .wazuhResult(result)
            case "AffectedItemsWazuhResult":
                for k in affectedItemsKeys where k != "total_failed_items" && body[k] == nil { throw undecodable(v) }
                guard case .array(let items)? = body["affected_items"], let total = body["total_affected_items"]?.intValue,
                      case .array(let keys)? = body["failed_items_keys"], case .array(let values)? = body["failed_items_values"],
                      let all = body["all_msg"]?.stringValue, let some = body["some_msg"]?.stringValue,
                      let none = body["none_msg"]?.stringValue
                else { throw undecodable(v) }
                var result = DapiResult(items: items, total: Int(total))
                // `zip` as decode_json does; total_failed_items is recomputed, not read.
                for (k, ids) in zip(keys, values) {
                    guard let e = exception(k["__class__"], k["__object__"]), case .array(let list) = ids else { throw undecodable(v) }
                    result.addFailure(e, ids: list.map { $0.stringValue ?? JSONWriter.compact.string($0) })
                }
                return .affectedItems(result, Messages(all: all, some: some, none: none))
            default:
                throw undecodable(v)
            }
        }
        if let x = o["__wazuh_exception__"] {
            guard let e = exception(x["__class__"], x["__object__"]) else { throw undecodable(v) }
            return .exception(e)
        }
        if o["__callable__"] != nil {
            throw ClusterError.wazuh(3103, "the answer holds a code reference, which is never looked up")
        }
        return .plain(v)
    }

    /// An exception from its class and object, as `WazuhException.from_dict` rebuilds it.
    static func exception(_ cls: JSON?, _ object: JSON?) -> ClusterError? {
        guard let cls = cls?.stringValue, exceptionClasses.contains(cls), let object, object["code"]?.intValue != nil else { return nil }
        return WireError.decode(json: ["__wazuh_exception__": ["__class__": .string(cls), "__object__": object]])
    }
}
