@testable import ClusterKit

/// The integrity container (zlib-compressed entries after their paths) read in awkward slices,
/// then what apply checks before it stages anything: the metadata's paths and its records.
/// Nothing past the limits is held, and a container that reads is read the same whole or sliced.
enum ContainerTarget {
    static let limits: ContainerLimits = {
        var l = ContainerLimits()
        l.maxEntries = 64
        l.maxTotalBytes = 1 << 20
        l.maxMetadataBytes = 1 << 18
        return l
    }()

    static let target = FuzzTarget(name: "container", summary: "ContainerReader, metadata paths and records") { input in
        var input = FuzzInput(input)
        let seed = input.byte()
        let data = [UInt8](input.bytes)
        let sliced = try? ContainerReader.read(from: MemorySource(data, chunk: Int(seed) + 1), limits: limits)
        let whole = try? ContainerReader.read(from: MemorySource(data), limits: limits)
        require((sliced == nil) == (whole == nil), "the container reads \(whole == nil ? "sliced only" : "whole only")")
        guard let contents = whole, let sliced else { return }
        require(contents.entries == sliced.entries && contents.metadata == sliced.metadata,
                "sliced and whole reads differ")
        require(contents.entries.count <= limits.maxEntries, "\(contents.entries.count) entries passed the limit")
        require(contents.metadata.count <= limits.maxMetadataBytes, "metadata of \(contents.metadata.count) bytes passed the limit")
        guard (try? ContainerUnpacker.validateMetadataPaths(contents.metadata)) != nil else { return }
        _ = try? contents.metadata.withUnsafeBytes { try ClassificationReader.parse($0, source: "fuzz") }
    }
}
