import MeterDrivers

/// A chip model on the simulated I2C bus.
public protocol I2CDeviceModel: AnyObject {
  /// One transaction addressed to this device. Throwing `.noAcknowledgeData` models a device
  /// that stops acknowledging part-way.
  func transaction(_ operations: [I2COperation]) throws(BusError) -> [UInt8]
}

/// A device that answers the reserved Device ID address (0xF8/0xF9, i.e. 7-bit 0x7C) when its
/// own address is written there (MB85RC256V data sheet, "Device ID Command").
public protocol I2CDeviceIDModel: AnyObject {
  var deviceID: [UInt8] { get }
}

/// The simulated I2C bus: routes each transaction to the model at its address; an address with
/// no model is not acknowledged, as on a real bus. Counts transactions and bytes on the wire.
public final class I2CBusModel: I2CBus {
  /// 7-bit address used for the Device ID command (0xF8 >> 1).
  public static let deviceIDAddress: UInt8 = 0x7C

  public struct Counters: Sendable, Hashable {
    public var transactions = 0
    /// Bytes on the wire: one address byte per START or repeated START, plus every data byte.
    public var bytes = 0
  }

  // Single-threaded simulator state; see ADE7953Model for why exclusivity checks are off.
  @exclusivity(unchecked) private var devices = [(any I2CDeviceModel)?](repeating: nil, count: 128)
  @exclusivity(unchecked) public private(set) var counters = Counters()
  @exclusivity(unchecked) private var perAddress = [Counters](repeating: Counters(), count: 128)
  /// A failure to raise on the next transaction (arbitration loss, bus error).
  @exclusivity(unchecked) public var nextFailure: BusError?

  public init() {}

  public func attach(_ device: any I2CDeviceModel, at address: UInt8) {
    devices[Int(address & 0x7F)] = device
  }

  /// Transactions and bytes addressed to one 7-bit address since the last reset of counters.
  public func counters(address: UInt8) -> Counters { perAddress[Int(address & 0x7F)] }

  public func detach(address: UInt8) { devices[Int(address & 0x7F)] = nil }

  public func resetCounters() {
    counters = Counters()
    perAddress = [Counters](repeating: Counters(), count: 128)
  }

  public func transaction(address: UInt8, _ operations: [I2COperation]) throws(BusError) -> [UInt8]
  {
    var wireBytes = 0
    for operation in operations {
      switch operation {
      case .write(let bytes): wireBytes += 1 + bytes.count
      case .read(let count): wireBytes += 1 + count
      }
    }
    counters.transactions += 1
    counters.bytes += wireBytes
    perAddress[Int(address & 0x7F)].transactions += 1
    perAddress[Int(address & 0x7F)].bytes += wireBytes
    if let failure = nextFailure {
      nextFailure = nil
      throw failure
    }
    if address == I2CBusModel.deviceIDAddress { return try deviceID(operations) }
    guard let device = devices[Int(address & 0x7F)] else {
      throw BusError(
        .noAcknowledgeAddress, "no device acknowledged 0x\(String(address, radix: 16))")
    }
    return try device.transaction(operations)
  }

  private func deviceID(_ operations: [I2COperation]) throws(BusError) -> [UInt8] {
    guard operations.count == 2, case .write(let selector) = operations[0], selector.count == 1,
      case .read(let count) = operations[1],
      let device = devices[Int(selector[0] >> 1)] as? any I2CDeviceIDModel
    else { throw BusError(.noAcknowledgeData, "device ID: no device answers this selector") }
    return Array(device.deviceID.prefix(count))
  }
}
