import ArgumentParser
import ClusterKit

/// Parses an unsigned number written in decimal or with a `0x` prefix in hex.
public func parseUnsigned(_ text: String, max: UInt64, what: String) throws -> UInt64 {
    let value: UInt64?
    if text.hasPrefix("0x") || text.hasPrefix("0X") {
        value = UInt64(text.dropFirst(2), radix: 16)
    } else {
        value = UInt64(text, radix: 10)
    }
    guard let v = value, v <= max else {
        throw ValidationError("\(what) must be a number from 0 to \(max) (decimal or 0x-hex), got '\(text)'")
    }
    return v
}

/// Parses a 16-byte IV written as 32 hex digits.
public func parseIV(_ text: String) throws -> [UInt8] {
    guard text.count == 32, let bytes = Hex.decode(text) else {
        throw ValidationError("--iv takes exactly 32 hex digits (16 bytes), got '\(text)'")
    }
    return bytes
}
