import Glibc
import MeterDrivers
import MeterLinux
import MeterSim

// meter-models: the project's chip models behind a pipe, for the CUSE bridge (meter-cuse) in
// the kernel-in-the-loop guest. Reads requests on stdin, answers on stdout; model time follows
// the guest's monotonic clock, so a driver's real sleeps advance the models.
//
//   meter-models i2c     ADE7953 at 0x38 (2 kW load at 230 V), FRAM at 0x50, LCD at 0x27
//   meter-models spi     MFRC522 with a MIFARE Classic 1K card in its field
//   meter-models spi-absent   no chip behind the chip select: MISO stays low
//
// Request: u32 length, payload. I2C payload: 'I', address, count, then per operation 'W' len16
// bytes or 'R' len16. SPI payload: 'S', count, then per operation 'T' len16 bytes, 'W' len16
// bytes, 'R' len16 or 'D' microseconds16. Reply: i32 errno (0 = success), u32 length, bytes
// read.

/// The errno i2c-dev gives for each bus error kind (the inverse of MeterLinux's mapping).
func errnoCode(_ error: BusError) -> Int32 {
  switch error.kind {
  case .noAcknowledgeAddress: ENXIO
  case .noAcknowledgeData: EREMOTEIO
  case .arbitrationLoss: EAGAIN
  case .timeout: ETIMEDOUT
  case .overrun: EOVERFLOW
  case .bus, .other: EIO
  }
}

func readExactly(_ count: Int) -> [UInt8]? {
  var bytes = [UInt8](repeating: 0, count: count)
  var done = 0
  while done < count {
    let n = bytes.withUnsafeMutableBytes { read(0, $0.baseAddress! + done, count - done) }
    if n < 0 && errno == EINTR { continue }
    if n <= 0 { return nil }
    done += n
  }
  return bytes
}

func writeAll(_ bytes: [UInt8]) {
  var done = 0
  while done < bytes.count {
    let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + done, bytes.count - done) }
    if n < 0 && errno == EINTR { continue }
    if n <= 0 { exit(1) }
    done += n
  }
}

func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
  withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

func reply(status: Int32, _ bytes: [UInt8] = []) {
  writeAll(littleEndian(status) + littleEndian(UInt32(bytes.count)) + bytes)
}

/// Parses `count` operations of the wire format starting at `index`.
func operations<Operation>(
  _ payload: [UInt8], from start: Int, count: Int,
  _ make: (UInt8, Int, [UInt8]?) -> Operation?
) -> [Operation]? {
  var operations: [Operation] = []
  var index = start
  for _ in 0..<count {
    guard index + 3 <= payload.count else { return nil }
    let kind = payload[index]
    let length = Int(payload[index + 1]) | Int(payload[index + 2]) << 8
    index += 3
    var data: [UInt8]?
    if kind == UInt8(ascii: "W") || kind == UInt8(ascii: "T") {
      guard index + length <= payload.count else { return nil }
      data = Array(payload[index..<(index + length)])
      index += length
    }
    guard let operation = make(kind, length, data) else { return nil }
    operations.append(operation)
  }
  return operations
}

func i2cOperation(_ kind: UInt8, _ length: Int, _ data: [UInt8]?) -> I2COperation? {
  switch kind {
  case UInt8(ascii: "W"): data.map { .write($0) }
  case UInt8(ascii: "R"): .read(count: length)
  default: nil
  }
}

func spiOperation(_ kind: UInt8, _ length: Int, _ data: [UInt8]?) -> SPIOperation? {
  switch kind {
  case UInt8(ascii: "T"): data.map { .transfer($0) }
  case UInt8(ascii: "W"): data.map { .write($0) }
  case UInt8(ascii: "R"): .read(count: length)
  case UInt8(ascii: "D"): .delayMicroseconds(length)
  default: nil
  }
}

/// What an SPI master reads with nothing driving MISO and a pull-down on it: zeros.
func misoLow(_ operations: [SPIOperation]) -> [UInt8] {
  var count = 0
  for operation in operations {
    switch operation {
    case .transfer(let bytes): count += bytes.count
    case .read(let length): count += length
    case .write, .delayMicroseconds: break
    }
  }
  return [UInt8](repeating: 0, count: count)
}

let mode = CommandLine.arguments.dropFirst().first ?? ""
guard ["i2c", "spi", "spi-absent"].contains(mode) else {
  let usage = Array("usage: meter-models i2c|spi|spi-absent\n".utf8)
  _ = write(2, usage, usage.count)
  exit(2)
}

let clock = VirtualClock()
let realClock = MonotonicClock()
var realBase = realClock.nowNanoseconds
let bus = I2CBusModel()
let meter = ADE7953Model(clock: clock)
meter.setLoad(.watts(2000))
bus.attach(meter, at: 0x38)
bus.attach(FRAMModel(), at: 0x50)
bus.attach(LCDModel(), at: 0x27)
let cardReader = MFRC522Model()
cardReader.present(MifareClassicCard(uid: [0xDE, 0xAD, 0xBE, 0xEF]))

while let header = readExactly(4) {
  let length = Int(
    UInt32(littleEndian: header.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
  guard let payload = readExactly(length) else { break }
  let now = realClock.nowNanoseconds
  clock.advance(nanoseconds: now - realBase)
  realBase = now
  do throws(BusError) {
    if mode == "i2c", payload.count >= 3, payload[0] == UInt8(ascii: "I"),
      let list = operations(payload, from: 3, count: Int(payload[2]), i2cOperation)
    {
      reply(status: 0, try bus.transaction(address: payload[1], list))
    } else if mode.hasPrefix("spi"), payload.count >= 2, payload[0] == UInt8(ascii: "S"),
      let list = operations(payload, from: 2, count: Int(payload[1]), spiOperation)
    {
      reply(status: 0, mode == "spi" ? try cardReader.transaction(list) : misoLow(list))
    } else {
      reply(status: EINVAL)
    }
  } catch {
    reply(status: errnoCode(error))
  }
}
