#if canImport(Glibc)
import Glibc
#endif
import CZlib

/// What identifies one version of a file on disk without reading it.
///
/// The reference trusts an equal float mtime (sync spec §9.3), so `cp -p`, `rsync -t` or two
/// writes within one timestamp tick go unseen forever. We also key on size, inode (and device)
/// and ctime: a rewrite that restores the mtime changes the ctime, a replacement by rename
/// changes the inode. Files changed too recently to trust their timestamps are not cached at
/// all (see `Scanner.Options.racyWindowNanoseconds`).
public struct FileStamp: Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var mtimeSeconds: Int64
    public var mtimeNanoseconds: Int64
    public var ctimeSeconds: Int64
    public var ctimeNanoseconds: Int64

    public init(device: UInt64, inode: UInt64, size: Int64, mtimeSeconds: Int64, mtimeNanoseconds: Int64,
                ctimeSeconds: Int64, ctimeNanoseconds: Int64) {
        self.device = device
        self.inode = inode
        self.size = size
        self.mtimeSeconds = mtimeSeconds
        self.mtimeNanoseconds = mtimeNanoseconds
        self.ctimeSeconds = ctimeSeconds
        self.ctimeNanoseconds = ctimeNanoseconds
    }

    init(_ st: stat) {
        self.init(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                  mtimeSeconds: Int64(st.st_mtim.tv_sec), mtimeNanoseconds: Int64(st.st_mtim.tv_nsec),
                  ctimeSeconds: Int64(st.st_ctim.tv_sec), ctimeNanoseconds: Int64(st.st_ctim.tv_nsec))
    }

    /// The later of mtime and ctime, in nanoseconds since the epoch.
    var lastChangeNanoseconds: Int64 {
        max(mtimeSeconds &* 1_000_000_000 &+ mtimeNanoseconds, ctimeSeconds &* 1_000_000_000 &+ ctimeNanoseconds)
    }
}

/// The scanner's on-disk memory of digests: relative path → (stamp, BLAKE2b-512 digest).
///
/// File format (version 1, little-endian), written atomically (temporary file, fsync, rename):
/// ```
/// "CLSCACHE" | u32 version | u32 0 | u64 count | u32 rootLen | root (UTF-8)
/// count × ( u32 pathLen | path | u64 dev | u64 ino | i64 size | i64 mtime_s | i64 mtime_ns
///           | i64 ctime_s | i64 ctime_ns | 64-byte digest )
/// u32 CRC-32 of everything before it
/// ```
/// A cache that is missing, of another version, for another root, truncated or failing its
/// CRC is ignored (the scan hashes everything and writes a fresh one); it is never trusted in part.
public final class ScanCache: @unchecked Sendable {
    static let magic = Array("CLSCACHE".utf8)
    static let version: UInt32 = 1
    static let fixedEntryBytes = 8 * 7 + 64

    /// The root the cache was made for.
    public private(set) var root: String
    /// Paths as UTF-8 in one buffer (`pathEnds[i]` is where path i ends): a warm scan compares
    /// bytes and never builds 50,000 strings it does not need.
    private(set) var pathBytes: [UInt8] = []
    private(set) var pathEnds: [UInt32] = []
    private(set) var stamps: [FileStamp] = []
    private(set) var digests: [UInt8] = []
    private var index: [String: Int]?
    /// Why a cache file was not used, when it was not (for a log line).
    public private(set) var loadNote: String?
    /// Set when a scan changed the content since it was loaded or saved.
    public var changed = false
    /// Counts the scans that replaced the content (a `ChangeTracker` trusts entries only while
    /// no other scan has replaced them).
    public private(set) var generation = 0

    /// `root` is compared in its canonical form, so `.` and the absolute path name one cache.
    public init(root: String) { self.root = (try? SafePath.realPath(root)) ?? root }

    /// The file the content was let go for (nil: the content is held in memory).
    private var backing: String?

    public var count: Int {
        ensureLoaded()
        return pathEnds.count
    }

    /// Lets go of the content, which must be what the file at `path` holds (just loaded from it
    /// or saved to it; a cache with unsaved changes keeps its content). A master whose files do
    /// not change then holds none of it between scans; the next scan that walks reads it back.
    public func release(backedBy path: String) {
        guard !changed else { return }
        pathBytes = []
        pathEnds = []
        stamps = []
        digests = []
        index = nil
        backing = path
    }

    /// Whether the content is held in memory now.
    public var isLoaded: Bool { backing == nil }

    /// Reads the content back if it was let go. A file that can no longer be used leaves the
    /// cache empty, as a new generation, so that nothing trusts entries it no longer holds.
    private func ensureLoaded() {
        guard let path = backing else { return }
        backing = nil
        let fresh = ScanCache.load(path: path, root: root)
        // A file gone or unusable leaves no entry: those files are hashed again.
        guard fresh.loadNote == nil else {
            loadNote = fresh.loadNote
            generation += 1
            return
        }
        pathBytes = fresh.pathBytes
        pathEnds = fresh.pathEnds
        stamps = fresh.stamps
        digests = fresh.digests
    }

    func pathRange(_ i: Int) -> Range<Int> { (i == 0 ? 0 : Int(pathEnds[i - 1]))..<Int(pathEnds[i]) }

    func path(_ i: Int) -> String { String(decoding: pathBytes[pathRange(i)], as: UTF8.self) }

    /// Loads a cache file for `root`. Never fails: an unusable file gives an empty cache and a
    /// `loadNote` saying why.
    public static func load(path: String, root: String) -> ScanCache {
        let cache = ScanCache(root: root)
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readAll(path: path, limit: 1 << 31)
        } catch let e as ClusterError {
            if e.exit != .noInput { cache.loadNote = "cache \(path) not used: \(e.message)" }
            return cache
        } catch {
            cache.loadNote = "cache \(path) not used: \(error)"
            return cache
        }
        if let why = cache.decode(bytes) {
            cache.pathBytes = []
            cache.pathEnds = []
            cache.stamps = []
            cache.digests = []
            cache.loadNote = "cache \(path) not used: \(why)"
        }
        return cache
    }

    /// Parses `bytes`; returns the reason on failure.
    private func decode(_ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBytes { raw -> String? in
            guard raw.count >= 8 + 4 + 4 + 8 + 4 + 4 else { return "too short" }
            guard raw.prefix(8).elementsEqual(ScanCache.magic) else { return "not a cl-integrity cache" }
            let body = raw.count - 4
            let stored = raw.loadUnaligned(fromByteOffset: body, as: UInt32.self).littleEndian
            let crc = UInt32(crc32(0, raw.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(body)))
            guard crc == stored else { return "checksum mismatch" }
            var off = 8
            func u32() -> UInt32 { defer { off += 4 }; return raw.loadUnaligned(fromByteOffset: off, as: UInt32.self).littleEndian }
            func u64() -> UInt64 { defer { off += 8 }; return raw.loadUnaligned(fromByteOffset: off, as: UInt64.self).littleEndian }
            let v = u32()
            guard v == ScanCache.version else { return "version \(v), expected \(ScanCache.version)" }
            _ = u32()
            let count = Int(truncatingIfNeeded: u64())
            let rootLen = Int(u32())
            guard rootLen <= body - off else { return "truncated" }
            let r = String(decoding: UnsafeRawBufferPointer(rebasing: raw[off..<(off + rootLen)]), as: UTF8.self)
            off += rootLen
            guard r == root else { return "made for root \(r), not \(root)" }
            guard count >= 0, count <= (body - off) / (4 + ScanCache.fixedEntryBytes) else { return "truncated" }
            pathEnds.reserveCapacity(count)
            pathBytes.reserveCapacity(count * 48)
            stamps.reserveCapacity(count)
            digests.reserveCapacity(count * 64)
            for _ in 0..<count {
                guard body - off >= 4 else { return "truncated" }
                let len = Int(u32())
                guard len <= body - off - ScanCache.fixedEntryBytes else { return "truncated" }
                pathBytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[off..<(off + len)]))
                guard pathBytes.count <= Int(UInt32.max) else { return "too large" }
                pathEnds.append(UInt32(pathBytes.count))
                off += len
                let dev = u64(), ino = u64()
                let size = Int64(bitPattern: u64())
                let ms = Int64(bitPattern: u64()), mns = Int64(bitPattern: u64())
                let cs = Int64(bitPattern: u64()), cns = Int64(bitPattern: u64())
                stamps.append(FileStamp(device: dev, inode: ino, size: size, mtimeSeconds: ms, mtimeNanoseconds: mns,
                                        ctimeSeconds: cs, ctimeNanoseconds: cns))
                digests.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[off..<(off + 64)]))
                off += 64
            }
            guard off == body else { return "trailing bytes" }
            return nil
        }
    }

    /// Serializes the cache (see the format above).
    public func encode() -> [UInt8] {
        ensureLoaded()
        var out = [UInt8]()
        out.reserveCapacity(32 + root.utf8.count + pathBytes.count + count * (4 + ScanCache.fixedEntryBytes) + 4)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        out.append(contentsOf: ScanCache.magic)
        put(ScanCache.version)
        put(UInt32(0))
        put(UInt64(count))
        put(UInt32(root.utf8.count))
        out.append(contentsOf: root.utf8)
        for i in 0..<count {
            let r = pathRange(i)
            put(UInt32(r.count))
            out.append(contentsOf: pathBytes[r])
            let s = stamps[i]
            put(s.device); put(s.inode); put(s.size)
            put(s.mtimeSeconds); put(s.mtimeNanoseconds); put(s.ctimeSeconds); put(s.ctimeNanoseconds)
            out.append(contentsOf: digests[(i * 64)..<(i * 64 + 64)])
        }
        let crc = out.withUnsafeBytes { UInt32(crc32(0, $0.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt($0.count))) }
        put(crc)
        return out
    }

    /// Writes the cache atomically (mode 0600: it lists the tree).
    public func save(to path: String) throws {
        try FileIO.writeAtomically(encode(), to: path, mode: 0o600)
        changed = false
    }

    // MARK: lookups for the scanner

    /// Prepares lookups for a scan whose candidates are `candidates` in order. Returns, for each
    /// candidate, the index of its cache entry or -1. Scans usually list the same files in the
    /// same order as last time, so positions are compared (as bytes) before a path index is built.
    func match(_ candidates: [String]) -> [Int] {
        ensureLoaded()
        var out = [Int](repeating: -1, count: candidates.count)
        var offset = 0
        pathBytes.withUnsafeBufferPointer { blob in
            for (i, p) in candidates.enumerated() {
                let j = i + offset
                if j >= 0 && j < count {
                    let r = pathRange(j)
                    let same = p.utf8.withContiguousStorageIfAvailable { $0.elementsEqual(UnsafeBufferPointer(rebasing: blob[r])) }
                        ?? p.utf8.elementsEqual(UnsafeBufferPointer(rebasing: blob[r]))
                    if same { out[i] = j; continue }
                }
                if index == nil {
                    var m = [String: Int](minimumCapacity: count)
                    for k in 0..<count { m[path(k)] = m[path(k)] ?? k }
                    index = m
                }
                if let k = index![p] {
                    out[i] = k
                    offset = k - i
                }
            }
        }
        return out
    }

    func stamp(at i: Int) -> FileStamp { stamps[i] }

    func copyDigest(at i: Int, to dst: UnsafeMutableRawPointer) {
        digests.withUnsafeBytes { dst.copyMemory(from: $0.baseAddress! + i * 64, byteCount: 64) }
    }

    /// Replaces the content with a scan's results.
    func replace(paths: [String], stamps: [FileStamp], digests: [UInt8]) {
        backing = nil
        var blob = [UInt8](), ends = [UInt32]()
        blob.reserveCapacity(paths.count * 48)
        ends.reserveCapacity(paths.count)
        for p in paths {
            blob.append(contentsOf: p.utf8)
            precondition(blob.count <= Int(UInt32.max), "scan cache paths over 4 GiB")
            ends.append(UInt32(blob.count))
        }
        pathBytes = blob
        pathEnds = ends
        self.stamps = stamps
        self.digests = digests
        index = nil
        changed = true
        generation += 1
    }
}
