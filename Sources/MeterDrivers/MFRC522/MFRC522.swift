/// Failures at the MFRC522 level; `CardReader` callers see them mapped onto `CardReaderError`.
public enum MFRC522Error: Error, Sendable, Hashable, CustomStringConvertible {
  case bus(BusError)
  /// VersionReg read 0x00 or 0xFF: nothing drives MISO (chip absent, unpowered, wrong wiring).
  case notResponding(version: UInt8)
  case unexpectedVersion(UInt8)
  /// The chip's timer expired before the card answered: no card, or it left.
  case noAnswer
  /// The chip neither finished nor timed out within the poll limit.
  case chipStuck(command: UInt8)
  /// ErrorReg bits after a transceive (ProtocolErr, ParityErr, BufferOvfl, CollErr …).
  case communication(errorBits: UInt8)
  /// Two cards answered anticollision at once.
  case collision
  case crcMismatch
  case bccMismatch
  /// A 4-bit NAK (anything but ACK 0xA) from the card.
  case negativeAcknowledge(UInt8)
  case unexpectedAnswer(count: Int, lastBits: Int)
  case authenticationFailed(block: Int)

  public var description: String {
    switch self {
    case .bus(let error): "MFRC522 SPI: \(error)"
    case .notResponding(let version):
      "MFRC522 not responding (VersionReg 0x\(String(version, radix: 16)))"
    case .unexpectedVersion(let version):
      "MFRC522 VersionReg 0x\(String(version, radix: 16)) is not a known chip"
    case .noAnswer: "no answer from a card before the reader's timer expired"
    case .chipStuck(let command): "MFRC522 command 0x\(String(command, radix: 16)) did not complete"
    case .communication(let bits):
      "card communication error (ErrorReg 0x\(String(bits, radix: 16)))"
    case .collision: "more than one card in the field"
    case .crcMismatch: "CRC_A of the card's answer is wrong"
    case .bccMismatch: "UID check byte (BCC) is wrong"
    case .negativeAcknowledge(let code): "card answered NAK 0x\(String(code, radix: 16))"
    case .unexpectedAnswer(let count, let bits):
      "unexpected answer of \(count) bytes (\(bits) bits in the last)"
    case .authenticationFailed(let block): "MIFARE authentication failed for block \(block)"
    }
  }
}

/// NXP MFRC522 ISO/IEC 14443-A reader on an SPI device, with the ISO 14443-3 card flow,
/// MIFARE Classic and NTAG commands, offered upward as a `CardReader`.
///
/// Sources: NXP MFRC522 data sheet Rev. 3.9: §8.1.2 SPI (address byte `0 A5..A0 0` for a
/// write, bit 7 set for a read; a read clocks out the next address while the previous value
/// comes in), §9 registers (CommandReg 01h … VersionReg 37h), §10.3 commands (CalcCRC 03h,
/// Transceive 0Ch, MFAuthent 0Eh, SoftReset 0Fh), §8.5 timer (TModeReg.TAuto starts it at the
/// end of transmission; f_timer = 13.56 MHz / (2 · TPrescaler + 1)), VersionReg 91h (v1.0) and
/// 92h (v2.0). ISO/IEC 14443-3: REQA 26h / WUPA 52h as 7-bit frames, ANTICOLLISION 93h/95h 20h,
/// SELECT 93h/95h 70h + UID CLn + BCC + CRC_A, cascade tag 88h, SAK bit 2 = UID not complete,
/// HLTA 50h 00h. NXP MF1S50 (MIFARE Classic 1K): AUTH 60h/61h, READ 30h, two-phase WRITE A0h
/// with 4-bit ACK Ah. NXP NTAG213/215/216: GET_VERSION 60h, READ 30h (4 pages), WRITE A2h.
///
/// Waiting uses the chip's own timer (25 ms) and the IRQ bits, polled a bounded number of
/// times, never a busy loop without limit.
public final class MFRC522: CardReader {
  // Registers (§9.2).
  static let commandReg: UInt8 = 0x01
  static let comIEnReg: UInt8 = 0x02
  static let comIrqReg: UInt8 = 0x04
  static let divIrqReg: UInt8 = 0x05
  static let errorReg: UInt8 = 0x06
  static let status2Reg: UInt8 = 0x08
  static let fifoDataReg: UInt8 = 0x09
  static let fifoLevelReg: UInt8 = 0x0A
  static let controlReg: UInt8 = 0x0C
  static let bitFramingReg: UInt8 = 0x0D
  static let modeReg: UInt8 = 0x11
  static let txControlReg: UInt8 = 0x14
  static let txASKReg: UInt8 = 0x15
  static let crcResultRegH: UInt8 = 0x21
  static let crcResultRegL: UInt8 = 0x22
  static let tModeReg: UInt8 = 0x2A
  static let tPrescalerReg: UInt8 = 0x2B
  static let tReloadRegH: UInt8 = 0x2C
  static let tReloadRegL: UInt8 = 0x2D
  static let versionReg: UInt8 = 0x37

  // Commands (§10.3).
  static let idle: UInt8 = 0x00
  static let calcCRC: UInt8 = 0x03
  static let transceive: UInt8 = 0x0C
  static let mfAuthent: UInt8 = 0x0E
  static let softReset: UInt8 = 0x0F

  // Bits.
  static let powerDown: UInt8 = 0x10  // CommandReg
  static let timerIRq: UInt8 = 0x01  // ComIrqReg
  static let errIRq: UInt8 = 0x02
  static let idleIRq: UInt8 = 0x10
  static let rxIRq: UInt8 = 0x20
  static let clearAllIRq: UInt8 = 0x7F  // Set1 = 0: clears the marked bits
  static let crcIRq: UInt8 = 0x04  // DivIrqReg
  static let flushFIFO: UInt8 = 0x80  // FIFOLevelReg
  static let startSend: UInt8 = 0x80  // BitFramingReg
  static let mfCrypto1On: UInt8 = 0x08  // Status2Reg
  static let antennaOn: UInt8 = 0x03  // TxControlReg Tx1RFEn | Tx2RFEn
  static let collErr: UInt8 = 0x08  // ErrorReg
  /// ProtocolErr | ParityErr | BufferOvfl.
  static let fatalErrors: UInt8 = 0x13
  /// 100 % ASK modulation, required by ISO 14443-A (TxASKReg.Force100ASK).
  static let force100ASK: UInt8 = 0x40
  /// ModeReg: CRC preset 6363h, as ISO 14443-3 CRC_A needs.
  static let modeCRC6363: UInt8 = 0x3D
  /// TModeReg TAuto with prescaler high bits 0; TPrescaler A9h → 40 kHz; reload 1000 → 25 ms.
  static let timerAuto: UInt8 = 0x80
  static let timerPrescaler: UInt8 = 0xA9
  static let timerReload: UInt16 = 1000

  // ISO 14443-3 and card commands.
  static let reqA: UInt8 = 0x26
  static let wupA: UInt8 = 0x52
  static let reqAFrame: [UInt8] = [reqA]
  static let wupAFrame: [UInt8] = [wupA]
  static let cascadeTag: UInt8 = 0x88
  static let selectCommands: [UInt8] = [0x93, 0x95]
  static let anticollision: UInt8 = 0x20
  static let select: UInt8 = 0x70
  static let halt: [UInt8] = [0x50, 0x00]
  static let mifareRead: UInt8 = 0x30
  static let mifareWrite: UInt8 = 0xA0
  static let ntagWrite: UInt8 = 0xA2
  static let ntagGetVersion: UInt8 = 0x60
  static let ntagPasswordAuth: UInt8 = 0x1B
  static let authKeyA: UInt8 = 0x60
  static let authKeyB: UInt8 = 0x61
  static let ack: UInt8 = 0x0A

  public static let knownVersions: Set<UInt8> = [0x91, 0x92, 0x88]

  private let device: any SPIDevice
  private let clock: any DriverClock
  private let resetLine: (any OutputLine)?
  /// How many times to read an IRQ register before declaring the chip stuck.
  public var pollLimit = 200
  public private(set) var version: UInt8 = 0
  /// The card this reader last selected.
  public private(set) var card: CardIdentity?
  private var authenticatedSector: (sector: Int, key: MifareKey)?
  /// Register writes' operation lists, indexed by register << 8 | value, each built on first
  /// use (empty until then): the card poll repeats the same few writes every second, and a list
  /// per call would be two allocations each (STYLE: the ADE7953 driver's prebuilt reads). An
  /// array rather than a dictionary, because hashing the key cost more than the write. Only
  /// `write` touches it, and never re-entrantly, so the runtime exclusivity check is off.
  @exclusivity(unchecked) private var writeOperations = [[SPIOperation]](
    repeating: [], count: 64 << 8)
  /// A register read per register (§8.1.2: the address with bit 7 set, then one filler byte).
  private static let readOperations: [[SPIOperation]] = (0..<64).map { register in
    [.transfer([0x80 | UInt8(register) << 1, 0x00])]
  }

  public init(device: any SPIDevice, clock: any DriverClock, resetLine: (any OutputLine)? = nil) {
    self.device = device
    self.clock = clock
    self.resetLine = resetLine
  }

  // MARK: Start-up

  /// Resets the chip, checks VersionReg, programs timer, modulation and CRC preset, turns the
  /// antenna on.
  public func start() throws(MFRC522Error) {
    if let resetLine {
      do throws(BusError) {
        try resetLine.set(.low)
        clock.sleep(microseconds: 100)
        try resetLine.set(.high)
      } catch { throw .bus(error) }
    }
    // Oscillator start-up after reset or power-down (§8.8.2): about 37.74 µs, wait more.
    clock.sleep(milliseconds: 50)
    version = try read(MFRC522.versionReg)
    if version == 0x00 || version == 0xFF { throw .notResponding(version: version) }
    guard MFRC522.knownVersions.contains(version) else { throw .unexpectedVersion(version) }
    try write(MFRC522.commandReg, MFRC522.softReset)
    try waitUntilPoweredUp()
    try write(MFRC522.tModeReg, MFRC522.timerAuto)
    try write(MFRC522.tPrescalerReg, MFRC522.timerPrescaler)
    try write(MFRC522.tReloadRegH, UInt8(MFRC522.timerReload >> 8))
    try write(MFRC522.tReloadRegL, UInt8(MFRC522.timerReload & 0xFF))
    try write(MFRC522.txASKReg, MFRC522.force100ASK)
    try write(MFRC522.modeReg, MFRC522.modeCRC6363)
    try setAntenna(on: true)
  }

  private func waitUntilPoweredUp() throws(MFRC522Error) {
    for _ in 0..<pollLimit {
      if try read(MFRC522.commandReg) & MFRC522.powerDown == 0 { return }
      clock.sleep(milliseconds: 1)
    }
    throw .chipStuck(command: MFRC522.softReset)
  }

  public func setAntenna(on: Bool) throws(MFRC522Error) {
    let current = try read(MFRC522.txControlReg)
    let wanted = on ? current | MFRC522.antennaOn : current & ~MFRC522.antennaOn
    if wanted != current { try write(MFRC522.txControlReg, wanted) }
  }

  // MARK: Registers over SPI (§8.1.2)

  func write(_ register: UInt8, _ value: UInt8) throws(MFRC522Error) {
    let key = Int(register & 0x3F) << 8 | Int(value)
    var operations = writeOperations[key]
    if operations.isEmpty {
      operations = [.write([register << 1, value])]
      writeOperations[key] = operations
    }
    do throws(BusError) { _ = try device.transaction(operations) } catch {
      throw .bus(error)
    }
  }

  func read(_ register: UInt8) throws(MFRC522Error) -> UInt8 {
    let reply: [UInt8]
    do throws(BusError) {
      reply = try device.transaction(MFRC522.readOperations[Int(register & 0x3F)])
    } catch {
      throw .bus(error)
    }
    guard reply.count == 2 else { throw .bus(BusError(.other, "short SPI reply")) }
    return reply[1]
  }

  private func writeFIFO(_ bytes: [UInt8]) throws(MFRC522Error) {
    // One byte is an ordinary register write (REQA / WUPA of every poll): same bytes on the wire.
    if bytes.count == 1 { return try write(MFRC522.fifoDataReg, bytes[0]) }
    do throws(BusError) {
      _ = try device.transaction([.write([MFRC522.fifoDataReg << 1] + bytes)])
    } catch {
      throw .bus(error)
    }
  }

  private func readFIFO(_ count: Int) throws(MFRC522Error) -> [UInt8] {
    guard count > 0 else { return [] }
    var out = [UInt8](repeating: 0x80 | MFRC522.fifoDataReg << 1, count: count)
    out.append(0x00)
    let reply: [UInt8]
    do throws(BusError) { reply = try device.transaction([.transfer(out)]) } catch {
      throw .bus(error)
    }
    guard reply.count == count + 1 else { throw .bus(BusError(.other, "short SPI reply")) }
    return Array(reply.dropFirst())
  }

  // MARK: Chip commands

  /// CRC_A computed by the chip's coprocessor (CalcCRC), low byte first as sent on air.
  public func crcA(_ data: [UInt8]) throws(MFRC522Error) -> [UInt8] {
    try write(MFRC522.commandReg, MFRC522.idle)
    try write(MFRC522.divIrqReg, MFRC522.crcIRq)
    try write(MFRC522.fifoLevelReg, MFRC522.flushFIFO)
    try writeFIFO(data)
    try write(MFRC522.commandReg, MFRC522.calcCRC)
    for _ in 0..<pollLimit {
      if try read(MFRC522.divIrqReg) & MFRC522.crcIRq != 0 {
        try write(MFRC522.commandReg, MFRC522.idle)
        return [try read(MFRC522.crcResultRegL), try read(MFRC522.crcResultRegH)]
      }
    }
    throw .chipStuck(command: MFRC522.calcCRC)
  }

  /// Sends a frame and returns the card's answer and the valid bits of its last byte (0 = 8).
  func transceive(_ frame: [UInt8], lastBits: UInt8 = 0) throws(MFRC522Error) -> (
    bytes: [UInt8], lastBits: Int
  ) {
    try write(MFRC522.commandReg, MFRC522.idle)
    try write(MFRC522.comIrqReg, MFRC522.clearAllIRq)
    try write(MFRC522.fifoLevelReg, MFRC522.flushFIFO)
    try writeFIFO(frame)
    try write(MFRC522.bitFramingReg, lastBits)
    try write(MFRC522.commandReg, MFRC522.transceive)
    try write(MFRC522.bitFramingReg, lastBits | MFRC522.startSend)
    try awaitCompletion(of: MFRC522.transceive, done: MFRC522.rxIRq | MFRC522.idleIRq)
    let errors = try read(MFRC522.errorReg)
    if errors & MFRC522.collErr != 0 { throw .collision }
    if errors & MFRC522.fatalErrors != 0 { throw .communication(errorBits: errors) }
    let count = Int(try read(MFRC522.fifoLevelReg) & 0x7F)
    let bytes = try readFIFO(count)
    let rxLastBits = Int(try read(MFRC522.controlReg) & 0x07)
    return (bytes, rxLastBits)
  }

  private func awaitCompletion(of command: UInt8, done: UInt8) throws(MFRC522Error) {
    for _ in 0..<pollLimit {
      let irq = try read(MFRC522.comIrqReg)
      if irq & done != 0 { return }
      if irq & MFRC522.timerIRq != 0 { throw .noAnswer }
    }
    throw .chipStuck(command: command)
  }

  /// Sends `frame` + CRC_A and checks the CRC_A of the answer, which is returned without it.
  private func transceiveWithCRC(_ frame: [UInt8]) throws(MFRC522Error) -> [UInt8] {
    let answer = try transceive(frame + (try crcA(frame)))
    if answer.lastBits == 4, answer.bytes.count == 1 {
      throw .negativeAcknowledge(answer.bytes[0] & 0x0F)
    }
    guard answer.lastBits == 0, answer.bytes.count >= 3 else {
      throw .unexpectedAnswer(count: answer.bytes.count, lastBits: answer.lastBits)
    }
    let payload = Array(answer.bytes.dropLast(2))
    guard try crcA(payload) == Array(answer.bytes.suffix(2)) else { throw .crcMismatch }
    return payload
  }

  /// Sends a frame + CRC_A and expects the 4-bit ACK.
  private func transceiveExpectingACK(_ frame: [UInt8]) throws(MFRC522Error) {
    let answer = try transceive(frame + (try crcA(frame)))
    guard answer.lastBits == 4, answer.bytes.count == 1 else {
      throw .unexpectedAnswer(count: answer.bytes.count, lastBits: answer.lastBits)
    }
    guard answer.bytes[0] & 0x0F == MFRC522.ack else {
      throw .negativeAcknowledge(answer.bytes[0] & 0x0F)
    }
  }

  // MARK: ISO 14443-3 activation

  /// REQA (idle cards) or WUPA (idle and halted cards): the ATQA, or nil when no card answers.
  public func request(wakeUp: Bool) throws(MFRC522Error) -> UInt16? {
    let answer: (bytes: [UInt8], lastBits: Int)
    do {
      answer = try transceive(wakeUp ? MFRC522.wupAFrame : MFRC522.reqAFrame, lastBits: 7)
    } catch .noAnswer {
      return nil
    }
    guard answer.bytes.count == 2, answer.lastBits == 0 else {
      throw .unexpectedAnswer(count: answer.bytes.count, lastBits: answer.lastBits)
    }
    return UInt16(answer.bytes[1]) << 8 | UInt16(answer.bytes[0])
  }

  /// Anticollision and select through cascade levels 1 and 2 (4- and 7-byte UIDs).
  public func select(atqa: UInt16) throws(MFRC522Error) -> CardIdentity {
    var uid: [UInt8] = []
    var sak: UInt8 = 0
    for level in MFRC522.selectCommands {
      let answer = try transceive([level, MFRC522.anticollision])
      guard answer.bytes.count == 5, answer.lastBits == 0 else {
        throw .unexpectedAnswer(count: answer.bytes.count, lastBits: answer.lastBits)
      }
      let part = Array(answer.bytes[0..<4])
      guard part[0] ^ part[1] ^ part[2] ^ part[3] == answer.bytes[4] else { throw .bccMismatch }
      let sakAnswer = try transceiveWithCRC([level, MFRC522.select] + answer.bytes)
      guard sakAnswer.count == 1 else {
        throw .unexpectedAnswer(count: sakAnswer.count, lastBits: 0)
      }
      sak = sakAnswer[0]
      if sak & 0x04 == 0 {
        uid += part
        break
      }
      guard part[0] == MFRC522.cascadeTag, level == MFRC522.selectCommands[0] else {
        throw .unexpectedAnswer(count: 5, lastBits: 0)
      }
      uid += part[1...]
    }
    authenticatedSector = nil
    return CardIdentity(uid: uid, type: try cardType(sak: sak), atqa: atqa, sak: sak)
  }

  private func cardType(sak: UInt8) throws(MFRC522Error) -> CardType {
    switch sak & 0x7B {
    case 0x08: return .mifareClassic1K
    case 0x18: return .mifareClassic4K
    case 0x00:
      // NTAG21x GET_VERSION: byte 6 is the storage size (NTAG213/215/216 data sheet §10.1).
      let version = try transceiveWithCRC([MFRC522.ntagGetVersion])
      guard version.count == 8, version[1] == 0x04, version[2] == 0x04 else {
        return .unsupported(sak: sak)
      }
      switch version[6] {
      case 0x0F: return .ntag213
      case 0x11: return .ntag215
      case 0x13: return .ntag216
      default: return .unsupported(sak: sak)
      }
    default: return .unsupported(sak: sak)
    }
  }

  /// HLTA; a halted card answers only WUPA. The card does not answer HLTA: silence is success.
  public func haltCard() throws(MFRC522Error) {
    do { _ = try transceive(MFRC522.halt + (try crcA(MFRC522.halt))) } catch .noAnswer {}
    try stopCrypto()
  }

  private func stopCrypto() throws(MFRC522Error) {
    let status = try read(MFRC522.status2Reg)
    if status & MFRC522.mfCrypto1On != 0 {
      try write(MFRC522.status2Reg, status & ~MFRC522.mfCrypto1On)
    }
    authenticatedSector = nil
  }

  // MARK: MIFARE Classic

  /// MFAuthent with the key for `block`'s sector (MF1S50 §10.1; MFRC522 §10.3.1.9).
  public func authenticate(block: Int, key: MifareKey, uid: [UInt8]) throws(MFRC522Error) {
    try write(MFRC522.commandReg, MFRC522.idle)
    try write(MFRC522.comIrqReg, MFRC522.clearAllIRq)
    try write(MFRC522.fifoLevelReg, MFRC522.flushFIFO)
    let command = key.slot == .a ? MFRC522.authKeyA : MFRC522.authKeyB
    try writeFIFO([command, UInt8(block)] + key.bytes + uid.suffix(4))
    try write(MFRC522.commandReg, MFRC522.mfAuthent)
    do { try awaitCompletion(of: MFRC522.mfAuthent, done: MFRC522.idleIRq) } catch .noAnswer {
      throw .authenticationFailed(block: block)
    }
    guard try read(MFRC522.status2Reg) & MFRC522.mfCrypto1On != 0 else {
      throw .authenticationFailed(block: block)
    }
  }

  /// READ 30h: 16 bytes (a Classic block, or four NTAG pages).
  public func read16(block: Int) throws(MFRC522Error) -> [UInt8] {
    let data = try transceiveWithCRC([MFRC522.mifareRead, UInt8(block)])
    guard data.count == 16 else { throw .unexpectedAnswer(count: data.count, lastBits: 0) }
    return data
  }

  /// MIFARE Classic WRITE A0h: address phase, ACK, 16 data bytes, ACK.
  public func writeClassicBlock(_ block: Int, _ data: [UInt8]) throws(MFRC522Error) {
    try transceiveExpectingACK([MFRC522.mifareWrite, UInt8(block)])
    try transceiveExpectingACK(data)
  }

  /// NTAG WRITE A2h: one 4-byte page.
  public func writeNTAGPage(_ page: Int, _ data: [UInt8]) throws(MFRC522Error) {
    try transceiveExpectingACK([MFRC522.ntagWrite, UInt8(page)] + data)
  }

  // MARK: CardReader

  public func poll() throws(CardReaderError) -> CardEvent? {
    do throws(MFRC522Error) {
      guard let atqa = try request(wakeUp: true) else {
        guard card != nil else { return nil }
        card = nil
        return .left
      }
      let identity = try select(atqa: atqa)
      if let current = card {
        try haltCard()
        guard current.uid != identity.uid else { return nil }
        card = nil
        return .left
      }
      card = identity
      return .arrived(identity)
    } catch {
      // A card that answered part of the activation and then went away is "nothing new".
      switch error {
      case .noAnswer, .crcMismatch, .bccMismatch, .communication, .collision, .unexpectedAnswer:
        return nil
      default: throw map(error, block: 0)
      }
    }
  }

  public func readBlocks(_ first: Int, count: Int, keys: MifareKeyProvider?) throws(CardReaderError)
    -> [UInt8]
  {
    let identity = try present()
    try checkRange(identity, first, count)
    var data: [UInt8] = []
    data.reserveCapacity(count * identity.type.blockSize)
    var block = first
    do throws(MFRC522Error) {
      switch identity.type {
      case .mifareClassic1K, .mifareClassic4K:
        while block < first + count {
          try authenticateIfNeeded(block: block, identity: identity, keys: keys)
          data += try read16(block: block)
          block += 1
        }
      default:
        while block < first + count {
          let pages = try read16(block: block)
          let wanted = min(4, first + count - block)
          data += pages[0..<(wanted * 4)]
          block += wanted
        }
      }
    } catch { throw map(error, block: block) }
    return data
  }

  public func writeBlocks(_ first: Int, _ data: [UInt8], keys: MifareKeyProvider?)
    throws(CardReaderError)
  {
    let identity = try present()
    let size = identity.type.blockSize
    guard data.count % size == 0 else {
      throw .refused("\(data.count) bytes is not a whole number of \(size)-byte blocks")
    }
    let count = data.count / size
    try checkRange(identity, first, count)
    for block in first..<(first + count) {
      switch identity.type {
      case .mifareClassic1K, .mifareClassic4K:
        guard block != 0, !MFRC522.isSectorTrailer(block) else {
          throw .refused("block \(block) is the manufacturer block or a sector trailer")
        }
      default:
        // Pages 0-3 hold the UID, lock bytes and the capability container.
        guard block >= 4 else { throw .refused("page \(block) is not user memory") }
      }
    }
    var block = first
    do throws(MFRC522Error) {
      for index in 0..<count {
        block = first + index
        let chunk = Array(data[(index * size)..<((index + 1) * size)])
        switch identity.type {
        case .mifareClassic1K, .mifareClassic4K:
          try authenticateIfNeeded(block: block, identity: identity, keys: keys)
          try writeClassicBlock(block, chunk)
        default:
          try writeNTAGPage(block, chunk)
        }
      }
    } catch { throw map(error, block: block) }
  }

  public func release() throws(CardReaderError) {
    do throws(MFRC522Error) { try haltCard() } catch { throw map(error, block: 0) }
  }

  public func selectedCard() throws(CardReaderError) -> CardIdentity { try present() }

  public func openingKey(sector: Int, candidates: [MifareKey]) throws(CardReaderError)
    -> MifareKey?
  {
    let identity = try classicSector(sector)
    let block = MFRC522.trailerBlock(ofSector: sector)
    for key in candidates {
      do throws(MFRC522Error) {
        try authenticateIfNeeded(block: block, identity: identity, keys: { _, _ in key })
        return key
      } catch .authenticationFailed {
        // A card that failed authentication has fallen back to IDLE (or HALT): wake it.
        try reactivate(identity)
      } catch {
        throw map(error, block: block)
      }
    }
    return nil
  }

  public func writeSectorTrailer(_ sector: Int, _ trailer: [UInt8], key: MifareKey)
    throws(CardReaderError)
  {
    let identity = try classicSector(sector)
    guard trailer.count == 16 else {
      throw .refused("a sector trailer is 16 bytes, not \(trailer.count)")
    }
    guard MifareSectorAccess(trailer: trailer) != nil else {
      throw .invalidAccessBits(trailer, sector: sector)
    }
    let block = MFRC522.trailerBlock(ofSector: sector)
    do throws(MFRC522Error) {
      try authenticateIfNeeded(block: block, identity: identity, keys: { _, _ in key })
      try writeClassicBlock(block, trailer)
    } catch { throw map(error, block: block) }
    // The sector's keys have changed: the next access authenticates with the new ones.
    authenticatedSector = nil
  }

  /// NTAG21x PWD_AUTH 1Bh + 4-byte password: the 2-byte PACK, or NAK for a wrong password.
  public func ntagPasswordAuthentication(_ password: [UInt8]) throws(CardReaderError)
    -> [UInt8]?
  {
    let identity = try present()
    switch identity.type {
    case .ntag213, .ntag215, .ntag216: break
    default: throw .refused("\(identity.type) has no NTAG password")
    }
    guard password.count == 4 else {
      throw .refused("an NTAG password is 4 bytes, not \(password.count)")
    }
    do throws(MFRC522Error) {
      let pack = try transceiveWithCRC([MFRC522.ntagPasswordAuth] + password)
      guard pack.count == 2 else {
        throw MFRC522Error.unexpectedAnswer(count: pack.count, lastBits: 0)
      }
      return pack
    } catch .negativeAcknowledge {
      // A NAK sends the NTAG back to IDLE (or HALT): wake the same card.
    } catch {
      throw map(error, block: 0)
    }
    try reactivate(identity)
    return nil
  }

  private func classicSector(_ sector: Int) throws(CardReaderError) -> CardIdentity {
    let identity = try present()
    let sectors: Int
    switch identity.type {
    case .mifareClassic1K: sectors = 16
    case .mifareClassic4K: sectors = 40
    default: throw .refused("\(identity.type) has no MIFARE Classic sectors")
    }
    guard (0..<sectors).contains(sector) else {
      throw .refused("sector \(sector) is outside the \(identity.type)")
    }
    return identity
  }

  /// WUPA and SELECT of the same card after a failed authentication.
  private func reactivate(_ identity: CardIdentity) throws(CardReaderError) {
    var uid: [UInt8]?
    do throws(MFRC522Error) {
      try stopCrypto()
      if let atqa = try request(wakeUp: true) { uid = try select(atqa: atqa).uid }
    } catch { throw map(error, block: 0) }
    guard uid == identity.uid else {
      card = nil
      throw .cardLost(uid == nil ? "the card left the field" : "another card is in the field")
    }
  }

  private func present() throws(CardReaderError) -> CardIdentity {
    guard let card else { throw .cardLost("no card selected") }
    return card
  }

  private func checkRange(_ identity: CardIdentity, _ first: Int, _ count: Int)
    throws(CardReaderError)
  {
    guard first >= 0, count > 0, first + count <= identity.type.blockCount else {
      throw .refused("blocks \(first)..<\(first + count) are outside the \(identity.type)")
    }
  }

  /// Sector of a Classic block: 4 blocks per sector below 128, 16 above (MIFARE Classic 4K).
  static func sector(of block: Int) -> Int { block < 128 ? block / 4 : 32 + (block - 128) / 16 }

  static func trailerBlock(ofSector sector: Int) -> Int {
    sector < 32 ? sector * 4 + 3 : 128 + (sector - 32) * 16 + 15
  }

  static func isSectorTrailer(_ block: Int) -> Bool {
    block < 128 ? block % 4 == 3 : (block - 128) % 16 == 15
  }

  private func authenticateIfNeeded(block: Int, identity: CardIdentity, keys: MifareKeyProvider?)
    throws(MFRC522Error)
  {
    let sector = MFRC522.sector(of: block)
    guard let keys else { throw .authenticationFailed(block: block) }
    let key = keys(identity.uid, sector)
    if let current = authenticatedSector, current.sector == sector, current.key == key { return }
    authenticatedSector = nil
    try authenticate(block: block, key: key, uid: identity.uid)
    authenticatedSector = (sector, key)
  }

  private func map(_ error: MFRC522Error, block: Int) -> CardReaderError {
    switch error {
    case .noAnswer, .crcMismatch, .communication, .collision, .bccMismatch, .unexpectedAnswer:
      // The session is gone; the next poll re-activates whatever is in the field.
      card = nil
      authenticatedSector = nil
      return .cardLost(error.description)
    case .negativeAcknowledge:
      card = nil
      authenticatedSector = nil
      return .refused(error.description)
    case .authenticationFailed(let block):
      card = nil
      authenticatedSector = nil
      return .authenticationFailed(block: block)
    case .bus, .notResponding, .unexpectedVersion, .chipStuck:
      return .reader(error.description)
    }
  }
}
