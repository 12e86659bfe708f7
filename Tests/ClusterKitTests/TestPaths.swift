import Foundation

/// Where tests find their fixtures: the ones the project carries, and the shared golden vectors
/// beside the repository when they are present.
enum TestPaths {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let fixtures = packageRoot.appendingPathComponent("Tests/ClusterKitTests/Fixtures")

    /// `../shared/vectors` beside the repository, or nil when this checkout has none.
    static var sharedVectors: URL? {
        let url = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/vectors")
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    static func read(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }
}

/// Runs a helper program (python3, b2sum ...) and returns its stdout; fails on a non-zero exit.
func runProgram(_ path: String, _ args: [String], stdin: [UInt8] = []) throws -> [UInt8] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ck-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let inURL = dir.appendingPathComponent("in"), outURL = dir.appendingPathComponent("out")
    let errURL = dir.appendingPathComponent("err")
    try Data(stdin).write(to: inURL)
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    p.standardInput = try FileHandle(forReadingFrom: inURL)
    p.standardOutput = try FileHandle(forWritingTo: outURL)
    p.standardError = try FileHandle(forWritingTo: errURL)
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        let err = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        throw ProgramFailure(description: "\(path) \(args.joined(separator: " ")) exited \(p.terminationStatus): \(err)")
    }
    return [UInt8](try Data(contentsOf: outURL))
}

struct ProgramFailure: Error, CustomStringConvertible { let description: String }

/// A deterministic byte generator for test payloads (xorshift), so failures reproduce.
struct TestBytes {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E3779B97F4A7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    mutating func bytes(_ n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        var i = 0
        while i < n {
            var v = next()
            for _ in 0..<8 where i < n { out[i] = UInt8(truncatingIfNeeded: v); v >>= 8; i += 1 }
        }
        return out
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
