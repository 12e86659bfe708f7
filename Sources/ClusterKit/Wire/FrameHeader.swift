/// The 20-byte clear-text frame header, `!2I12s`: counter, this frame's payload length, command field.
public struct FrameHeader: Sendable, Equatable {
    public static let size = 20

    public var counter: UInt32
    public var length: UInt32
    /// The raw 12-byte command field, flag byte included.
    public var commandField: [UInt8]

    public init(counter: UInt32, length: UInt32, commandField: [UInt8]) {
        precondition(commandField.count == CommandField.size)
        self.counter = counter
        self.length = length
        self.commandField = commandField
    }

    public var name: [UInt8] { commandField.withUnsafeBytes { CommandField.decode($0).name } }
    public var divided: Bool { commandField[CommandField.size - 1] == CommandField.dividedFlag }
    public var commandName: String { String(decoding: name, as: UTF8.self) }

    public func write(into out: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: counter >> UInt32(shift))) }
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: length >> UInt32(shift))) }
        out.append(contentsOf: commandField)
    }

    public var bytes: [UInt8] {
        var b = [UInt8]()
        b.reserveCapacity(FrameHeader.size)
        write(into: &b)
        return b
    }

    public init(parsing raw: UnsafeRawBufferPointer) {
        precondition(raw.count >= FrameHeader.size)
        func u32(_ o: Int) -> UInt32 {
            UInt32(raw[o]) << 24 | UInt32(raw[o + 1]) << 16 | UInt32(raw[o + 2]) << 8 | UInt32(raw[o + 3])
        }
        counter = u32(0)
        length = u32(4)
        commandField = Array(raw[8..<20])
    }
}
