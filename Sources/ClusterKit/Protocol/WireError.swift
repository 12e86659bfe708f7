/// Errors as they cross the wire in `err` replies and in `*_r` / `dapi_err` / `cancel_task`
/// payloads.
///
/// The reference encodes an exception as Python's `json.dumps` of
/// `{"__wazuh_exception__": {"__class__": C, "__object__": {type, title, code, extra_message,
/// extra_remediation, cmd_error, dapi_errors}}}`; the receiver rebuilds the human message from the
/// code. Some replies are plain text instead (`unknown command 'b'x''`), which a receiver turns
/// into error 3000.
public enum WireError {
    static let titles: [String: String] = [
        "WazuhError": "Bad Request", "WazuhInternalError": "Wazuh Internal Error",
        "WazuhClusterError": "Wazuh Cluster Error", "WazuhPermissionError": "Permission Denied",
        "WazuhResourceNotFound": "Resource Not Found", "WazuhException": "Wazuh Exception",
    ]

    /// The exception object for `error`. An error without a reference code travels as the
    /// reference sends any non-Wazuh exception: WazuhInternalError 1000 with its text as extra.
    public static func json(_ error: ClusterError, dapiErrors: JSON = [:]) -> JSON {
        let code = error.code == 0 ? 1000 : error.code
        let cls = WazuhErrorCatalog.entry(code).wazuhClass
        let extra: JSON = error.code == 0 ? .string(error.message) : (error.extra.map(JSON.string) ?? .null)
        var object: JSON = [
            "type": "about:blank", "title": .string(titles[cls] ?? "Wazuh Error"), "code": .int(Int64(code)),
            "extra_message": extra, "extra_remediation": .null, "cmd_error": false, "dapi_errors": dapiErrors,
        ]
        if cls == "WazuhError" || cls == "WazuhResourceNotFound" { object["ids"] = [] }
        return ["__wazuh_exception__": ["__class__": .string(cls), "__object__": object]]
    }

    /// The bytes of an `err` payload, exactly as the reference writes them.
    public static func payload(_ error: ClusterError) -> [UInt8] {
        JSONWriter.python.bytes(json(error))
    }

    /// Rebuilds an error a peer sent: exception JSON when it parses, otherwise the text as 3000.
    public static func decode(_ payload: [UInt8]) -> ClusterError {
        if let v = try? JSON.parse(payload), let e = decode(json: v) { return e }
        return ClusterError.wazuh(3000, String(decoding: payload, as: UTF8.self))
    }

    public static func decode(json v: JSON) -> ClusterError? {
        if let obj = v["__wazuh_exception__"]?["__object__"], let code = obj["code"]?.intValue {
            let extra: String?
            switch obj["extra_message"] {
            case .string(let s)?: extra = s
            case nil, .null?: extra = nil
            case let other?: extra = JSONWriter.compact.string(other)
            }
            var e = ClusterError.wazuh(Int(code), extra)
            if obj["cmd_error"]?.boolValue == true, let extra { e.message = extra }
            return e
        }
        if let u = v["__unhandled_exc__"], let cls = u["__class__"]?.stringValue {
            let args = u["__args__"].map { JSONWriter.compact.string($0) } ?? "[]"
            return ClusterError.wazuh(1000, "\(cls): \(args)")
        }
        return nil
    }

    /// The reference's reply to a command it does not know (plain text, not JSON).
    public static func unknownCommand(_ name: [UInt8]) -> [UInt8] {
        Array("unknown command '\(pythonBytesRepr(name))'".utf8)
    }
}
