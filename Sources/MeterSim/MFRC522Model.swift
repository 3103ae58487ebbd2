import MeterDrivers

/// Register-level model of the NXP MFRC522 (data sheet Rev. 3.9) as an SPI device, with at most
/// one virtual card in its field.
///
/// SPI framing per §8.1.2 (a read clocks the next address out while the previous register's
/// value comes in; a write sends the address once, then data bytes to that same register).
/// Registers: CommandReg (commands of §10.3: Idle, CalcCRC, Transceive, MFAuthent, SoftReset;
/// PowerDown bit), ComIrqReg / DivIrqReg with Set1 semantics, ErrorReg, Status2Reg.MFCrypto1On,
/// the 64-byte FIFO with FIFOLevelReg (bit 7 flushes, BufferOvfl on overflow), ControlReg
/// RxLastBits, BitFramingReg TxLastBits / StartSend, ModeReg CRC preset, TxControlReg antenna
/// bits, TModeReg.TAuto (no answer → TimerIRq, as the timer would expire), VersionReg.
public final class MFRC522Model: SPIDevice {
  public struct Counters: Sendable, Hashable {
    public var spiTransactions = 0
    /// Frames the reader transmitted to the field.
    public var framesSent = 0
  }

  /// What VersionReg answers: 0x92 for a v2.0 chip; a test sets 0x00 for a dead bus.
  public var version: UInt8 = 0x92
  // Single-threaded simulator state; see ADE7953Model for why exclusivity checks are off (the
  // card poll touches these a dozen times every simulated second).
  @exclusivity(unchecked) public private(set) var counters = Counters()
  public private(set) var card: VirtualCard?
  @exclusivity(unchecked) private var registers = [UInt8](repeating: 0, count: 64)
  @exclusivity(unchecked) private var fifo: [UInt8] = []
  /// Answers of a single two-byte transfer (a register read) reuse this buffer: the driver
  /// drops each answer before the next read, so it is uniquely referenced again and nothing is
  /// allocated.
  @exclusivity(unchecked) private var registerReadReply = [UInt8](repeating: 0, count: 2)

  public init() { softReset() }

  /// Puts a card on the reader (it powers up in IDLE).
  public func present(_ card: VirtualCard) {
    card.enterField()
    self.card = card
  }

  /// Takes the card away.
  public func removeCard() {
    card?.hasLeftField = true
    card = nil
  }

  public var antennaOn: Bool { registers[0x14] & 0x03 != 0 }

  public func resetCounters() { counters = Counters() }

  public func transaction(_ operations: [SPIOperation]) throws(BusError) -> [UInt8] {
    counters.spiTransactions += 1
    if operations.count == 1 {
      switch operations[0] {
      case .write(let bytes):
        write(bytes)
        return []
      case .transfer(let bytes) where bytes.count == 2 && bytes[0] & 0x80 != 0:
        registerReadReply[0] = 0
        registerReadReply[1] = readRegister(bytes[0] >> 1 & 0x3F)
        return registerReadReply
      default:
        break
      }
    }
    var reply: [UInt8] = []
    for operation in operations {
      switch operation {
      case .transfer(let bytes): reply += exchange(bytes)
      case .write(let bytes): write(bytes)
      case .read(let count): reply += [UInt8](repeating: 0, count: count)
      case .delayMicroseconds: break
      }
    }
    return reply
  }

  /// Clocks bytes in with nothing wanted back: a write needs no answer buffer.
  private func write(_ bytes: [UInt8]) {
    guard let first = bytes.first else { return }
    if first & 0x80 != 0 {
      for index in 1..<bytes.count where bytes[index - 1] & 0x80 != 0 {
        _ = readRegister(bytes[index - 1] >> 1 & 0x3F)
      }
    } else {
      let register = first >> 1 & 0x3F
      for index in 1..<bytes.count { writeRegister(register, bytes[index]) }
    }
  }

  private func exchange(_ bytes: [UInt8]) -> [UInt8] {
    guard let first = bytes.first else { return [] }
    var reply = [UInt8](repeating: 0, count: bytes.count)
    if first & 0x80 != 0 {
      for index in 1..<max(bytes.count, 1) where bytes[index - 1] & 0x80 != 0 {
        reply[index] = readRegister(bytes[index - 1] >> 1 & 0x3F)
      }
    } else {
      let register = first >> 1 & 0x3F
      for value in bytes.dropFirst() { writeRegister(register, value) }
    }
    return reply
  }

  private func readRegister(_ register: UInt8) -> UInt8 {
    switch register {
    case 0x09: return fifo.isEmpty ? 0 : fifo.removeFirst()
    case 0x0A: return UInt8(fifo.count)
    case 0x37: return version
    default: return registers[Int(register)]
    }
  }

  private func writeRegister(_ register: UInt8, _ value: UInt8) {
    switch register {
    case 0x01:
      registers[0x01] = value & 0x3F
      execute(value & 0x0F)
    case 0x04, 0x05:
      if value & 0x80 != 0 {
        registers[Int(register)] |= value & 0x7F
      } else {
        registers[Int(register)] &= ~value
      }
    case 0x08:
      registers[0x08] = value
      if value & 0x08 == 0 { card?.cryptoStopped() }
    case 0x09:
      if fifo.count < 64 { fifo.append(value) } else { registers[0x06] |= 0x10 }
    case 0x0A:
      if value & 0x80 != 0 {
        fifo.removeAll(keepingCapacity: true)
        registers[0x06] &= ~0x10
      }
    case 0x0D:
      registers[0x0D] = value
      if value & 0x80 != 0, registers[0x01] & 0x0F == 0x0C { transmit() }
    case 0x37: break
    default:
      registers[Int(register)] = value
    }
  }

  private func execute(_ command: UInt8) {
    switch command {
    case 0x03:
      let presets: [UInt16] = [0x0000, 0x6363, 0xA671, 0xFFFF]
      let crc = crcA(fifo, preset: presets[Int(registers[0x11] & 0x03)])
      fifo.removeAll(keepingCapacity: true)
      registers[0x22] = crc[0]
      registers[0x21] = crc[1]
      registers[0x05] |= 0x04
    case 0x0C:
      registers[0x06] = 0
    case 0x0E:
      registers[0x06] = 0
      authenticate()
    case 0x0F:
      softReset()
    default:
      break
    }
  }

  private func softReset() {
    registers = [UInt8](repeating: 0, count: 64)
    registers[0x02] = 0x80
    registers[0x0A] = 0
    registers[0x11] = 0x3F
    registers[0x12] = 0x00
    registers[0x14] = 0x80
    registers[0x15] = 0x00
    fifo = []
  }

  private var cardInField: VirtualCard? {
    guard antennaOn, let card, !card.hasLeftField else { return nil }
    return card
  }

  private func noAnswer() {
    if registers[0x2A] & 0x80 != 0 { registers[0x04] |= 0x01 }
  }

  private func transmit() {
    let lastBits = Int(registers[0x0D] & 0x07)
    counters.framesSent += 1
    registers[0x04] |= 0x40
    // With no card in the field the frame goes nowhere: emptied in place, not copied out.
    guard let card = cardInField else {
      fifo.removeAll(keepingCapacity: true)
      return noAnswer()
    }
    let frame = fifo
    fifo.removeAll(keepingCapacity: true)
    guard
      let answer = card.receive(frame, lastBits: lastBits, encrypted: registers[0x08] & 0x08 != 0)
    else { return noAnswer() }
    fifo = answer.bytes
    registers[0x0C] = registers[0x0C] & ~0x07 | UInt8(answer.lastBits)
    registers[0x04] |= 0x30
    registers[0x01] &= ~0x0F
  }

  private func authenticate() {
    let request = fifo
    fifo.removeAll(keepingCapacity: true)
    guard request.count == 12, request[0] == 0x60 || request[0] == 0x61, let card = cardInField,
      card.authenticate(
        slot: request[0] == 0x60 ? .a : .b, block: Int(request[1]), key: Array(request[2..<8]),
        uid: Array(request[8..<12]))
    else { return noAnswer() }
    registers[0x08] |= 0x08
    registers[0x04] |= 0x10
    registers[0x01] &= ~0x0F
  }
}
