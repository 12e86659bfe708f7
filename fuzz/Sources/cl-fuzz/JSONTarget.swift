@testable import ClusterKit

/// The two JSON readers of the product: jansson (through `JSON.parse`) and `JSONScanner`. Both
/// are strict RFC 8259 with duplicate keys refused; they must accept the same documents and read
/// the same values from them.
enum JSONTarget {
    static let target = FuzzTarget(name: "json", summary: "jansson wrapper and JSONScanner agree") { input in
        // jansson nests up to 2048 levels and JSONScanner 512; past 512 only the scanner's refusal is checked.
        var depth = 0, deepest = 0
        for b in input {
            if b == UInt8(ascii: "[") || b == UInt8(ascii: "{") { depth += 1; deepest = max(deepest, depth) }
            if b == UInt8(ascii: "]") || b == UInt8(ascii: "}") { depth -= 1 }
        }
        let scanned = Result { try JSONScanner.parse(input) }
        if deepest > JSONScanner.maxDepth { return }
        let jansson = Result { try JSON.parse(input) }
        switch (jansson, scanned) {
        case (.success(let a), .success(let b)):
            require(a == b, "jansson and JSONScanner read different values")
        case (.failure, .failure):
            break
        case (.success, .failure(let e)):
            require(false, "jansson accepts, JSONScanner refuses: \(e)")
        case (.failure(let e), .success):
            require(false, "JSONScanner accepts, jansson refuses: \(e)")
        }
    }
}
