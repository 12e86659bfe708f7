/// The reference's sync container (sync spec §4.3). It is not a ZIP file:
/// ```
/// container := entry* metadata
/// entry     := relpath_utf8 "|//@@//|" zlib(content, level 1) "|@@//@@|"
/// metadata  := "files_metadata.json" "|//@@//|" zlib(json.dumps(metadata), level 1)
/// ```
public enum ContainerFormat {
    public static let pathSeparator: [UInt8] = Array("|//@@//|".utf8)
    public static let fileSeparator: [UInt8] = Array("|@@//@@|".utf8)
    public static let metadataName = "files_metadata.json"
    /// `communication.max_zip_size`: 1 GiB.
    public static let defaultMaxSize = 1 << 30
}

/// What a container reader accepts from a peer. Every size a peer controls is capped.
public struct ContainerLimits: Sendable, Equatable {
    /// Longest entry path, in bytes.
    public var maxPathBytes = SafePath.maxLength
    /// Most entries (the metadata included).
    public var maxEntries = 1_000_000
    /// Most decompressed bytes of all entries together, metadata included. The reference's
    /// writer stops at 1 GiB of *compressed* entries; zlib expands at most about 1000:1, but
    /// real files compress a few times at most, so 4 GiB of output is the default cap.
    public var maxTotalBytes = 4 << 30
    /// Most decompressed bytes of `files_metadata.json` (about 260 bytes per file in a snapshot:
    /// 256 MiB is a million files).
    public var maxMetadataBytes = 256 << 20

    public init() {}
}
