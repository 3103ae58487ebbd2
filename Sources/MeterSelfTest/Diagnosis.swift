import MeterDrivers

/// Hex as the datasheets and i2cdetect write it: 0x38.
func hex(_ value: UInt8) -> String {
  (value < 0x10 ? "0x0" : "0x") + String(value, radix: 16)
}

/// The likely wiring fault behind a failed transfer to an I2C chip (also meterd's start-up
/// refusal wording).
public func i2cFault(_ error: BusError, address: UInt8, bus: String, chip: String, extra: String)
  -> String
{
  switch error.kind {
  case .noAcknowledgeAddress, .noAcknowledgeData:
    "no ACK at \(hex(address)) on \(bus): check SDA/SCL and 3.3 V to the \(chip)\(extra)"
  case .timeout, .arbitrationLoss, .bus:
    "\(bus) does not complete transfers: SDA or SCL held low (a short, or a chip stuck mid-transfer); power-cycle and check the bus wiring"
  case .overrun, .other:
    "\(bus) failed: \(error.message)"
  }
}

/// The likely cause of a GPIO line that cannot be requested (also meterd's start-up refusals).
public func lineFault(_ error: BusError, line: Int, role: String) -> String {
  if error.message.contains("(EBUSY)") {
    return
      "GPIO\(line) (\(role)) is held by another program: stop meterd (sudo systemctl stop meterd) and run the self-test again"
  }
  if error.message.contains(": open failed:") {
    return "the GPIO chip cannot be opened; the detail says what to do"
  }
  return "GPIO\(line) (\(role)) cannot be used; the detail says why"
}
