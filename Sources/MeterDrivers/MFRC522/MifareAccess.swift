/// The access conditions of one MIFARE Classic sector, decoded from its trailer (NXP MF1S50
/// data sheet §8.7, Tables 7 and 8): what each key may do with the data blocks and the trailer.
/// The one place the tables live: the MFRC522 driver checks trailer bytes with it before it
/// writes them, and the card models (`MeterSim`, `vend`'s virtual encoder) enforce it.
public struct MifareSectorAccess: Sendable, Hashable {
  /// C1 C2 C3 of blocks 0-2 and the trailer (block 3), each as C1 << 2 | C2 << 1 | C3.
  public let conditions: [UInt8]

  /// Decodes trailer bytes 6-8 (a whole 16-byte trailer, or just those 3 bytes). Nil when the
  /// bits are not in their complemented format: a real card then blocks the sector for good,
  /// so a trailer write with such bytes must never be sent.
  public init?(trailer: [UInt8]) {
    let bits: ArraySlice<UInt8>
    switch trailer.count {
    case 16: bits = trailer[6..<9]
    case 3: bits = trailer[...]
    default: return nil
    }
    let b6 = bits[bits.startIndex]
    let b7 = bits[bits.startIndex + 1]
    let b8 = bits[bits.startIndex + 2]
    guard b6 & 0x0F == ~(b7 >> 4) & 0x0F, b6 >> 4 == ~b8 & 0x0F, b7 & 0x0F == ~(b8 >> 4) & 0x0F
    else { return nil }
    conditions = (0..<4).map { index in
      (b7 >> (4 + index) & 1) << 2 | (b8 >> index & 1) << 1 | (b8 >> (4 + index) & 1)
    }
  }

  /// Key B is readable (trailer 000, 010, 001): it is then plain data and cannot authenticate
  /// data access.
  public var keyBReadable: Bool { [0b000, 0b010, 0b001].contains(conditions[3]) }

  /// The key slots that may authenticate at all in this sector.
  public func mayAuthenticate(_ slot: MifareKey.Slot) -> Bool { slot == .a || !keyBReadable }

  /// Which keys may read and write data block `index` (0-2) (Table 8).
  public func dataAccess(_ index: Int) -> (read: Set<MifareKey.Slot>, write: Set<MifareKey.Slot>) {
    let both: Set<MifareKey.Slot> = keyBReadable ? [.a] : [.a, .b]
    switch conditions[index] {
    case 0b000: return (both, both)
    case 0b010, 0b001: return (both, [])
    case 0b100, 0b110: return (both, [.b])
    case 0b011: return ([.b], [.b])
    case 0b101: return ([.b], [])
    default: return ([], [])
    }
  }

  /// Trailer permissions (Table 7): key A write, access bits read/write, key B read/write.
  public var trailerAccess:
    (
      keyAWrite: Set<MifareKey.Slot>, bitsRead: Set<MifareKey.Slot>,
      bitsWrite: Set<MifareKey.Slot>, keyBRead: Set<MifareKey.Slot>,
      keyBWrite: Set<MifareKey.Slot>
    )
  {
    switch conditions[3] {
    case 0b000: return ([.a], [.a], [], [.a], [.a])
    case 0b010: return ([], [.a], [], [.a], [])
    case 0b100: return ([.b], [.a, .b], [], [], [.b])
    case 0b110: return ([], [.a, .b], [], [], [])
    case 0b001: return ([.a], [.a], [.a], [.a], [.a])
    case 0b011: return ([.b], [.a, .b], [.b], [], [.b])
    case 0b101: return ([], [.a, .b], [.b], [], [])
    default: return ([], [.a, .b], [], [], [])
    }
  }

  /// `slot` may rewrite the whole trailer (both keys and the access bits), as personalisation
  /// needs.
  public func mayRewriteTrailer(with slot: MifareKey.Slot) -> Bool {
    let access = trailerAccess
    return access.keyAWrite.contains(slot) && access.bitsWrite.contains(slot)
      && access.keyBWrite.contains(slot)
  }
}
