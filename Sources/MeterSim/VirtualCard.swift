import MeterDrivers

/// CRC_A of ISO/IEC 14443-3 (Annex B): preset 6363h, reflected polynomial 8408h, low byte first.
public func crcA(_ data: some Sequence<UInt8>, preset: UInt16 = 0x6363) -> [UInt8] {
  var crc = preset
  for byte in data {
    var mixed = byte ^ UInt8(crc & 0xFF)
    mixed ^= mixed << 4
    crc = (crc >> 8) ^ (UInt16(mixed) << 8) ^ (UInt16(mixed) << 3) ^ (UInt16(mixed) >> 4)
  }
  return [UInt8(crc & 0xFF), UInt8(crc >> 8)]
}

/// What a card sends back: bytes, and the valid bits of the last byte (0 means all 8).
public struct CardAnswer: Sendable, Hashable {
  public var bytes: [UInt8]
  public var lastBits: Int

  public static func frame(_ payload: [UInt8]) -> CardAnswer {
    CardAnswer(bytes: payload + crcA(payload), lastBits: 0)
  }
  public static let ack = CardAnswer(bytes: [0x0A], lastBits: 4)
  public static func nak(_ code: UInt8) -> CardAnswer { CardAnswer(bytes: [code], lastBits: 4) }
}

/// An ISO/IEC 14443-A card in the model's field: the activation state machine of ISO 14443-3
/// (IDLE, READY at a cascade level, ACTIVE, HALT; REQA, WUPA, ANTICOLLISION, SELECT, HLTA), with
/// the command set of the concrete card in subclasses.
///
/// Removal is modelled by `removeAfterBlockOperations`: after that many further block reads or
/// writes complete, the card leaves the field (tearing between blocks, R-C4; removal mid-read).
/// Frames travel in plaintext even after MIFARE authentication: the model checks that the
/// reader turned Crypto1 on, not the cipher.
public class VirtualCard {
  enum State: Equatable {
    case idle
    case ready(level: Int)
    case active, halt
  }

  public let uid: [UInt8]
  public let atqa: UInt16
  /// SAK of the complete UID.
  public let sak: UInt8
  /// Block reads and writes completed, for the per-presentation figures of issue #3.
  public private(set) var blockReads = 0
  public private(set) var blockWrites = 0
  public var removeAfterBlockOperations: Int?
  /// The card has left the field (by itself after `removeAfterBlockOperations`).
  public internal(set) var hasLeftField = false
  var state = State.idle
  var wasHalted = false

  init(uid: [UInt8], atqa: UInt16, sak: UInt8) {
    precondition(uid.count == 4 || uid.count == 7, "single and double size UIDs only")
    self.uid = uid
    self.atqa = atqa
    self.sak = sak
  }

  /// The card enters the field: power-on puts it in IDLE.
  func enterField() {
    state = .idle
    wasHalted = false
    hasLeftField = false
  }

  /// UID CLn as sent in anticollision (cascade tag 88h first at level 1 of a 7-byte UID).
  func uidPart(level: Int) -> [UInt8] {
    if uid.count == 4 { return uid }
    return level == 0 ? [0x88] + uid[0..<3] : Array(uid[3..<7])
  }

  var levels: Int { uid.count == 4 ? 1 : 2 }

  func receive(_ frame: [UInt8], lastBits: Int, encrypted: Bool) -> CardAnswer? {
    guard !hasLeftField, let first = frame.first else { return nil }
    if lastBits == 7, frame.count == 1 {
      let wakeUp = first == 0x52
      guard first == 0x26 || wakeUp else { return nil }
      switch state {
      case .idle:
        state = .ready(level: 0)
        return CardAnswer(bytes: [UInt8(atqa & 0xFF), UInt8(atqa >> 8)], lastBits: 0)
      case .halt:
        guard wakeUp else { return nil }
        state = .ready(level: 0)
        return CardAnswer(bytes: [UInt8(atqa & 0xFF), UInt8(atqa >> 8)], lastBits: 0)
      default:
        // An unexpected frame sends an activated card back to IDLE (or HALT), silently.
        fallBack()
        return nil
      }
    }
    switch state {
    case .idle, .halt: return nil
    case .ready(let level):
      let selectCode: UInt8 = level == 0 ? 0x93 : 0x95
      guard first == selectCode, frame.count >= 2 else {
        fallBack()
        return nil
      }
      let part = uidPart(level: level)
      let bcc = part.reduce(0, ^)
      if frame[1] == 0x20, frame.count == 2 { return CardAnswer(bytes: part + [bcc], lastBits: 0) }
      guard frame[1] == 0x70, let payload = checkedPayload(frame), payload.count == 7,
        Array(payload[2..<6]) == part, payload[6] == bcc
      else {
        fallBack()
        return nil
      }
      if level + 1 < levels {
        state = .ready(level: level + 1)
        return .frame([0x04])
      }
      state = .active
      return .frame([sak])
    case .active:
      if frame.count == 4, frame[0] == 0x50, frame[1] == 0x00, checkedPayload(frame) != nil {
        state = .halt
        wasHalted = true
        resetSession()
        return nil
      }
      guard let answer = handleActive(frame, encrypted: encrypted) else {
        fallBack()
        return nil
      }
      return answer
    }
  }

  /// The frame without its CRC_A, or nil if the CRC_A is wrong.
  func checkedPayload(_ frame: [UInt8]) -> [UInt8]? {
    guard frame.count >= 3 else { return nil }
    let payload = Array(frame.dropLast(2))
    return crcA(payload) == Array(frame.suffix(2)) ? payload : nil
  }

  func fallBack() {
    state = wasHalted ? .halt : .idle
    resetSession()
  }

  /// Counts a completed block operation and leaves the field when the budget is spent.
  func completedBlockOperation(write: Bool) {
    if write { blockWrites += 1 } else { blockReads += 1 }
    guard let remaining = removeAfterBlockOperations else { return }
    removeAfterBlockOperations = remaining - 1
    if remaining - 1 <= 0 {
      hasLeftField = true
      removeAfterBlockOperations = nil
    }
  }

  public func resetCounters() {
    blockReads = 0
    blockWrites = 0
  }

  // Overridden by the concrete cards.
  func handleActive(_ frame: [UInt8], encrypted: Bool) -> CardAnswer? { nil }
  func resetSession() {}
  func authenticate(slot: MifareKey.Slot, block: Int, key: [UInt8], uid: [UInt8]) -> Bool { false }
  func cryptoStopped() {}
}
