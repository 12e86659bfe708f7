import CJansson
import Foundation

extension JSON {
    /// Parses one JSON document (any value at top level) with jansson. Duplicate object keys are
    /// refused; errors give line and column.
    public static func parse(_ bytes: UnsafeRawBufferPointer, source: String = "input") throws -> JSON {
        // jansson stops reading at a raw NUL byte and accepts what came before it ("0\0anything"
        // reads as 0), where JSON allows none anywhere (one inside a string must be written
        // \u0000): refused here, as JSONScanner refuses it, so both readers accept the same bytes.
        if let base = bytes.baseAddress, let nul = memchr(base, 0, bytes.count) {
            let offset = UnsafeRawPointer(nul) - base
            throw ClusterError.badData("\(source): invalid JSON at byte \(offset): a NUL byte", code: 3036)
        }
        var error = json_error_t()
        let flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL
        let base = bytes.baseAddress?.assumingMemoryBound(to: CChar.self) ?? UnsafePointer<CChar>(bitPattern: 1)!
        guard let root = json_loadb(base, bytes.count, size_t(flags), &error) else {
            let text = withUnsafeBytes(of: &error.text) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            throw ClusterError.badData("\(source): invalid JSON at line \(error.line), column \(error.column): \(text)", code: 3036)
        }
        defer { json_decref(root) }
        return convert(root)
    }

    public static func parse(_ bytes: [UInt8], source: String = "input") throws -> JSON {
        try bytes.withUnsafeBytes { try parse($0, source: source) }
    }

    public static func parse(_ text: String, source: String = "input") throws -> JSON {
        try parse(Array(text.utf8), source: source)
    }

    private static func convert(_ v: UnsafeMutablePointer<json_t>) -> JSON {
        switch v.pointee.type {
        case JSON_NULL: return .null
        case JSON_TRUE: return .bool(true)
        case JSON_FALSE: return .bool(false)
        case JSON_INTEGER: return .int(Int64(json_integer_value(v)))
        case JSON_REAL: return .double(json_real_value(v))
        case JSON_STRING:
            let len = json_string_length(v)
            guard let p = json_string_value(v) else { return .string("") }
            return .string(String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self))
        case JSON_ARRAY:
            let n = json_array_size(v)
            var a = [JSON]()
            a.reserveCapacity(n)
            for i in 0..<n { a.append(convert(json_array_get(v, i))) }
            return .array(a)
        case JSON_OBJECT:
            var o = JSONObject(minimumCapacity: json_object_size(v))
            var it = json_object_iter(v)
            while let i = it {
                let klen = json_object_iter_key_len(i)
                let key = String(decoding: UnsafeRawBufferPointer(start: json_object_iter_key(i), count: klen), as: UTF8.self)
                o[key] = convert(json_object_iter_value(i))
                it = json_object_iter_next(v, i)
            }
            return .object(o)
        default:
            return .null
        }
    }
}
