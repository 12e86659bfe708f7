/// The reference's metadata record for one file (sync spec §3.2), in its JSON key order:
/// `mod_time`, `cluster_item_key`, `merged`, [`merge_type`, `merge_name`], `hash`.
public struct FileRecord: Sendable, Equatable {
    /// Python `os.path.getmtime`: `sec + nsec * 1e-9` in double precision. Only a cache key in
    /// the reference; never compared between nodes.
    public var modTime: Double
    /// The rule key the file belongs to (`etc/shared/`).
    public var clusterItemKey: String
    /// True when the basename contains `.merged` (the legacy merged format).
    public var merged: Bool
    /// With `merged`: the placeholder `"TYPE"` and the absolute path, as the reference writes.
    public var mergeType: String?
    public var mergeName: String?
    /// BLAKE2b-512 of the content, lowercase hex (128 characters).
    public var hash: String

    public init(modTime: Double, clusterItemKey: String, merged: Bool = false,
                mergeType: String? = nil, mergeName: String? = nil, hash: String) {
        self.modTime = modTime
        self.clusterItemKey = clusterItemKey
        self.merged = merged
        self.mergeType = mergeType
        self.mergeName = mergeName
        self.hash = hash
    }

    /// Python's `st_mtime` from the exact timespec.
    public static func pythonModTime(seconds: Int64, nanoseconds: Int64) -> Double {
        Double(seconds) + Double(nanoseconds) * 1e-9
    }

    /// Reads a record from JSON. `mod_time`, `cluster_item_key` and `hash` are required;
    /// `merged` defaults to false. Other keys are ignored (no reference version writes any).
    public init(json: JSON, path: String) throws {
        guard case .object(let o) = json else {
            throw ClusterError.badData("record of \(SafePath.quoted(path)): expected an object, got \(json.typeName)")
        }
        guard let t = o["mod_time"]?.doubleValue else {
            throw ClusterError.badData("record of \(SafePath.quoted(path)): mod_time must be a number")
        }
        guard case .string(let key)? = o["cluster_item_key"] else {
            throw ClusterError.badData("record of \(SafePath.quoted(path)): cluster_item_key must be a string")
        }
        guard case .string(let hash)? = o["hash"] else {
            throw ClusterError.badData("record of \(SafePath.quoted(path)): hash must be a string")
        }
        var merged = false
        if let m = o["merged"] {
            guard case .bool(let b) = m else {
                throw ClusterError.badData("record of \(SafePath.quoted(path)): merged must be true or false")
            }
            merged = b
        }
        self.init(modTime: t, clusterItemKey: key, merged: merged,
                  mergeType: o["merge_type"]?.stringValue, mergeName: o["merge_name"]?.stringValue, hash: hash)
    }

    public func toJSON() -> JSON {
        var o = JSONObject(minimumCapacity: 6)
        o["mod_time"] = .double(modTime)
        o["cluster_item_key"] = .string(clusterItemKey)
        o["merged"] = .bool(merged)
        if let mergeType { o["merge_type"] = .string(mergeType) }
        if let mergeName { o["merge_name"] = .string(mergeName) }
        o["hash"] = .string(hash)
        return .object(o)
    }

    /// Appends the record as Python's `json.dumps` writes it.
    func writePython(into out: inout [UInt8]) {
        out.append(contentsOf: #"{"mod_time": "#.utf8)
        JSONWriter.writeDouble(modTime, into: &out)
        out.append(contentsOf: #", "cluster_item_key": "#.utf8)
        PythonJSON.appendString(clusterItemKey, into: &out)
        out.append(contentsOf: merged ? #", "merged": true"#.utf8 : #", "merged": false"#.utf8)
        if let mergeType {
            out.append(contentsOf: #", "merge_type": "#.utf8)
            PythonJSON.appendString(mergeType, into: &out)
        }
        if let mergeName {
            out.append(contentsOf: #", "merge_name": "#.utf8)
            PythonJSON.appendString(mergeName, into: &out)
        }
        out.append(contentsOf: #", "hash": "#.utf8)
        PythonJSON.appendString(hash, into: &out)
        out.append(UInt8(ascii: "}"))
    }
}
