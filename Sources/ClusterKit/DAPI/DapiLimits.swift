/// Bounds on what a distributed API request may ask for, checked when it is read, before
/// anything runs: a refused request is 3100 with the size and the bound in its message.
///
/// Requests arrive from local clients and are relayed and fanned out between nodes, which
/// re-serialize them in Python's form (`", "` separators, non-ASCII as `\uXXXX`), larger than
/// what arrived; the bounds leave room for that under the next node's `maxRequestBytes`.
public enum DapiLimits {
    /// The request's JSON as received, checked before it is parsed. The `dapi` command's
    /// payload cap (`CommandPayloadLimits.dapiCap`) is the same.
    public static let maxRequestBytes = 4 << 20
    /// `f_kwargs` as nodes forward it. A list of 100,000 agent ids is about 1 MB.
    public static let maxArgumentBytes = 3 << 20
    /// Names in `nodes`, or in `node_list` (with `node_id`).
    public static let maxNodeNames = 4096
    /// UTF-8 bytes of one node name; a real one has at most `NodeName.maxLength` (128).
    public static let maxNodeNameBytes = 256

    public static func checkRequestSize(_ count: Int) throws {
        guard count <= maxRequestBytes else {
            throw DapiError.refused("the request is \(count) bytes, over the \(maxRequestBytes)-byte limit")
        }
    }

    /// `field` names nodes: `nodes`, or `node_list` in the arguments.
    public static func checkNodeNames(_ names: [String], field: String, operation: String) throws {
        guard names.count <= maxNodeNames else {
            throw DapiError.refused("operation '\(LogText.truncated(operation))': \"\(field)\" names \(names.count) nodes, over the limit of \(maxNodeNames)")
        }
        if let long = names.first(where: { $0.utf8.count > maxNodeNameBytes }) {
            throw DapiError.refused("operation '\(LogText.truncated(operation))': \"\(field)\" has a node name of \(long.utf8.count) bytes (\(LogText.truncated(long, max: 40))), over the limit of \(maxNodeNameBytes)")
        }
    }

    /// Counted on the form nodes forward, so an accepted request is never refused for its size
    /// by the next node.
    public static func checkArguments(_ arguments: JSONObject, operation: String) throws {
        let size = JSONWriter.python.bytes(.object(arguments)).count
        guard size <= maxArgumentBytes else {
            throw DapiError.refused("operation '\(LogText.truncated(operation))': arguments are \(size) bytes as forwarded, over the \(maxArgumentBytes)-byte limit")
        }
    }
}
