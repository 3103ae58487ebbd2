import MeterDrivers

/// The checks, in the order an installer fixes things: bus, chips on it, card reader, relay,
/// inputs.
struct SelfTestChecks<Hardware: SelfTestHardware> {
  let wiring: SelfTestWiring
  let hardware: Hardware
  let cardKeys: SelfTestCardKeys?
  var results: [SelfTestResult] = []

  /// The last 16 bytes of the FRAM: written and restored by the self-test (R-D1 data elsewhere is
  /// untouched; these bytes are restored too).
  static var framScratchAddress: Int { MB85RC256V.capacity - 16 }
  static var framScratchLength: Int { 16 }
  /// LINECYC (16 bits): a register whose value only paces the line-cycle interrupt, written and
  /// restored to check ADE7953 writes land (data sheet "Communication Verification").
  static var meterScratchPattern: UInt32 { 0x5A3C }
  /// MFRC522 VersionReg 0x37 (data sheet §9.3.4.8) read on SPI as `(reg << 1) | 0x80`
  /// (§8.1.2.3); 0x91 = v1.0, 0x92 = v2.0, 0x88 = a widespread clone.
  static var cardReaderVersionRead: UInt8 { (0x37 << 1) | 0x80 }
  static var cardReaderVersions: [UInt8: String] { [0x91: "v1.0", 0x92: "v2.0", 0x88: "clone"] }
  static var relaySettleMilliseconds: UInt64 { 20 }
  /// The first sector after the MIFARE application directory: the card's issue area (the
  /// layout's sector 1), where meterd first authenticates.
  static var firstApplicationSector: Int { 1 }

  init(wiring: SelfTestWiring, hardware: Hardware, cardKeys: SelfTestCardKeys?) {
    self.wiring = wiring
    self.hardware = hardware
    self.cardKeys = cardKeys
  }

  mutating func run() {
    let bus: (any I2CBus)?
    do throws(BusError) {
      bus = try hardware.i2cBus(path: wiring.i2cPath)
      results.append(.pass("I2C bus \(wiring.i2cPath)", "opened"))
    } catch {
      bus = nil
      results.append(
        .fail(
          "I2C bus \(wiring.i2cPath)", error.message,
          "the ADE7953, FRAM and LCD cannot be checked until the bus opens"))
    }
    if let bus {
      checkMeter(bus)
      checkFRAM(bus)
      checkLCD(bus)
    }
    checkCardReader()
    if wiring.pulseRelay { checkRelay() }
    checkInputs()
  }

  // MARK: I2C chips

  mutating func checkMeter(_ bus: any I2CBus) {
    let name = "ADE7953 at \(hex(wiring.meterAddress))"
    let isolator =
      " (hot side: HLK-PM03 and the ADuM1250's side 2), and RESET (GPIO\(wiring.meterReset)) high"
    do {
      let chip = try ADE7953(
        bus: bus, clock: hardware.clock, calibration: Self.anyCalibration,
        address: wiring.meterAddress)
      let version = UInt8(truncatingIfNeeded: try chip.read(.version))
      guard version != 0xFF else {
        results.append(
          .fail(
            name, "VERSION reads 0xff",
            "SDA reads all ones: the ADE7953 is not driving the bus; check its 3.3 V supply\(isolator)"
          ))
        return
      }
      let original = UInt32(try chip.read(.lineCycles))
      try chip.write(.lineCycles, Self.meterScratchPattern, confirm: true)
      let readBack = UInt32(try chip.read(.lineCycles))
      try chip.write(.lineCycles, original, confirm: true)
      guard readBack == Self.meterScratchPattern else {
        results.append(
          .fail(
            name, "LINECYC read back 0x\(String(readBack, radix: 16)) after writing 0x5a3c",
            "data corrupted on the bus: check the pull-ups on SDA/SCL and try 100 kHz (dtparam=i2c_arm_baudrate=100000)"
          ))
        return
      }
      _ = try chip.read(.resetInterruptStatusA)
      let irq = try hardware.inputLine(wiring.meterIRQ).level()
      guard irq == .high else {
        results.append(
          .fail(
            name,
            "version \(hex(version)); IRQ GPIO\(wiring.meterIRQ) low after clearing the status",
            "IRQ stuck low: check the ADuM1201's IRQ channel and its supplies, and for a short to GND on GPIO\(wiring.meterIRQ)"
          ))
        return
      }
      results.append(
        .pass(
          name,
          "version \(hex(version)); LINECYC write/read-back/restore ok; IRQ GPIO\(wiring.meterIRQ) idle high"
        ))
    } catch let error as ADE7953Error {
      results.append(.fail(name, error.description, meterFault(error, isolator: isolator)))
    } catch let error as BusError {
      results.append(
        .fail(name, error.message, lineFault(error, line: wiring.meterIRQ, role: "ADE7953 IRQ")))
    } catch {
      results.append(.fail(name, "\(error)", "unexpected error"))
    }
  }

  private func meterFault(_ error: ADE7953Error, isolator: String) -> String {
    switch error {
    case .bus(let busError, _):
      i2cFault(
        busError, address: wiring.meterAddress, bus: wiring.i2cPath, chip: "ADE7953",
        extra: isolator)
    case .writeNotConfirmed:
      "writes do not land: the interface may be locked to SPI (power-cycle the hot side) or SDA is marginal (check pull-ups, try 100 kHz)"
    case .resetNotAcknowledged, .invalidCalibration:
      "\(error)"
    }
  }

  /// The self-test does not measure, so any valid calibration will do.
  static var anyCalibration: ADE7953Calibration {
    ADE7953Calibration(
      vrmsCountsPerVolt: 1,
      channelA: .init(irmsCountsPerAmpere: 1, activeEnergyCountsPerKilowattHour: 1),
      channelB: .init(irmsCountsPerAmpere: 1, activeEnergyCountsPerKilowattHour: 1))
  }

  mutating func checkFRAM(_ bus: any I2CBus) {
    let name = "FRAM at \(hex(wiring.framAddress))"
    let fram = MB85RC256V(bus: bus, address: wiring.framAddress)
    let address = Self.framScratchAddress
    do throws(FRAMError) {
      try fram.start()
      let original = try fram.read(at: address, count: Self.framScratchLength)
      let pattern = original.map { ~$0 }
      try fram.write(pattern, at: address, verify: true)
      try fram.write(original, at: address, verify: true)
      results.append(
        .pass(name, "device ID ok; \(Self.framScratchLength) bytes written, read back and restored")
      )
    } catch {
      let fault: String
      switch error {
      case .bus(let busError, _):
        fault = i2cFault(
          busError, address: wiring.framAddress, bus: wiring.i2cPath, chip: "FRAM",
          extra: ", and A0-A2 to GND")
      case .unexpectedDeviceID:
        fault =
          "a different chip answers at \(hex(wiring.framAddress)) (an EEPROM fitted instead of the MB85RC256V?)"
      case .writeNotStored:
        fault = "writes are ignored: the FRAM's WP pin is held high; tie WP to GND"
      case .outOfRange:
        fault = "\(error)"
      }
      results.append(.fail(name, error.description, fault))
    }
  }

  mutating func checkLCD(_ bus: any I2CBus) {
    let name = "LCD expander at \(hex(wiring.lcdAddress))"
    let lcd = HD44780LCD(bus: bus, clock: hardware.clock, address: wiring.lcdAddress)
    do throws(LCDError) {
      try lcd.show("meterctl", "self-test")
      results.append(.pass(name, "acknowledged; the display shows \"meterctl self-test\""))
    } catch {
      let fault: String
      if case .bus(let busError) = error,
        [.noAcknowledgeAddress, .noAcknowledgeData].contains(busError.kind)
      {
        fault =
          "no ACK at \(hex(wiring.lcdAddress)) on \(wiring.i2cPath): check the backpack's 5 V and SDA/SCL, and its address (PCF8574A backpacks answer at 0x3f: pass --lcd-address 0x3f)"
      } else if case .bus(let busError) = error {
        fault = i2cFault(
          busError, address: wiring.lcdAddress, bus: wiring.i2cPath, chip: "LCD backpack", extra: ""
        )
      } else {
        fault = error.description
      }
      results.append(.fail(name, error.description, fault))
    }
  }

  // MARK: SPI

  mutating func checkCardReader() {
    let name = "MFRC522 on \(wiring.spiPath)"
    do throws(BusError) {
      let reset = try hardware.outputLine(wiring.cardReaderReset, initial: .high)
      try reset.set(.high)
      let device = try hardware.spiDevice(path: wiring.spiPath)
      let reply = try device.transaction([.transfer([Self.cardReaderVersionRead, 0x00])])
      let version = reply.count == 2 ? reply[1] : 0
      if let known = Self.cardReaderVersions[version] {
        results.append(.pass(name, "VersionReg \(hex(version)) (\(known))"))
        if let cardKeys { checkCardOnReader(device, reset: reset, keys: cardKeys) }
      } else if version == 0x00 {
        results.append(
          .fail(
            name, "VersionReg reads 0x00",
            "MISO reads all zeros: check MISO (pin 21), the module's 3.3 V, and RST (GPIO\(wiring.cardReaderReset)) high"
          ))
      } else if version == 0xFF {
        results.append(
          .fail(
            name, "VersionReg reads 0xff",
            "MISO reads all ones: check chip select CE0 (pin 24) to the module's SDA/NSS, and SCK (pin 23)"
          ))
      } else {
        results.append(
          .fail(
            name, "VersionReg reads \(hex(version))",
            "not an MFRC522 version: noise on the SPI lines (keep them short, lower the SPI speed) or another chip on CE0"
          ))
      }
    } catch {
      let fault =
        error.message.contains("(EBUSY)")
        ? lineFault(error, line: wiring.cardReaderReset, role: "MFRC522 RST")
        : error.message.contains("ENOENT") && error.message.contains(wiring.spiPath)
          ? "SPI is not enabled: add dtparam=spi=on to config.txt and reboot"
          : error.message.hasPrefix(wiring.spiPath)
            ? "\(wiring.spiPath) cannot be used; the detail says why"
            : lineFault(error, line: wiring.cardReaderReset, role: "MFRC522 RST")
      results.append(.fail(name, error.message, fault))
    }
  }

  /// Whether a card held on the reader opens with the meter's card keys (issue #3): a MIFARE
  /// Classic card's first application sector with its key A, an NTAG's PWD_AUTH with its
  /// password and PACK. Reads and writes no block.
  mutating func checkCardOnReader(
    _ device: any SPIDevice, reset: any OutputLine, keys: SelfTestCardKeys
  ) {
    let name = "card on the reader"
    let reader = MFRC522(device: device, clock: hardware.clock, resetLine: reset)
    do throws(MFRC522Error) {
      try reader.start()
    } catch {
      results.append(
        .fail(
          name, "the MFRC522 does not start: \(error)",
          "the reader answers its version but not its start-up: check its 3.3 V supply and the SPI wiring"
        ))
      return
    }
    do throws(CardReaderError) {
      guard case .arrived(let card) = try reader.poll() else {
        results.append(
          .pass(
            name,
            "none (hold a card vend issued on the reader during the self-test to check it opens with the card keys)"
          ))
        return
      }
      let uid = card.uid.map { ($0 < 0x10 ? "0" : "") + String($0, radix: 16) }.joined()
      let foreign =
        "the card was personalised with another card-key master secret: compare this meter's fingerprint (card keys row) with `vend key cards` at the office"
      switch card.type {
      case .mifareClassic1K, .mifareClassic4K:
        let sector = Self.firstApplicationSector
        let own = keys.mifare(card.uid, sector)
        switch try reader.openingKey(sector: sector, candidates: [own, .transport]) {
        case own:
          results.append(
            .pass(
              name, "\(card.type) \(uid): sector \(sector) opens with its key from the card keys"))
        case MifareKey.transport:
          results.append(
            .fail(
              name, "\(card.type) \(uid): sector \(sector) opens only with the transport key",
              "the card is not personalised yet (a blank card, or issued before the office had the secret): meterd refuses it as card_keys; its next counter visit personalises it"
            ))
        default:
          results.append(
            .fail(
              name,
              "\(card.type) \(uid): sector \(sector) opens with neither its key nor the transport key",
              foreign))
        }
      case .ntag213, .ntag215, .ntag216:
        let (password, acknowledge) = keys.ntag(card.uid)
        let pack = try reader.ntagPasswordAuthentication(password)
        if pack == acknowledge {
          results.append(
            .pass(name, "\(card.type) \(uid): accepts its password from the card keys"))
        } else {
          let answer = pack == nil ? "refuses its password" : "answers another PACK to its password"
          results.append(
            .fail(
              name, "\(card.type) \(uid): \(answer) from the card keys",
              "meterd refuses it as card_keys: the card is not personalised yet (its next counter visit sets its password), or "
                + foreign))
        }
      case .unsupported:
        results.append(
          .fail(
            name, "\(card.type) \(uid)", "not a card the meter reads: use a card vend issued"))
      }
      try? reader.release()
    } catch {
      results.append(
        .fail(
          name, "\(error)",
          "the card left the field or answered badly: hold it still on the reader and run the self-test again"
        ))
    }
  }

  // MARK: Relay

  mutating func checkRelay() {
    let name =
      "relay (GPIO\(wiring.openCoil)/\(wiring.closeCoil), feedback GPIO\(wiring.relayFeedback))"
    do {
      let relay = LatchingRelay(
        openCoil: try hardware.outputLine(wiring.openCoil, initial: .low),
        closeCoil: try hardware.outputLine(wiring.closeCoil, initial: .low),
        feedback: RelayFeedbackContact(
          line: try hardware.inputLine(wiring.relayFeedback),
          settleMilliseconds: Self.relaySettleMilliseconds),
        clock: hardware.clock)
      let before = try relay.feedback()
      let opened = try relay.command(.open)
      let closed = try relay.command(.closed)
      // Leave it as found: an installer testing a disconnected meter keeps it open.
      if before == .open { _ = try relay.command(.open) }
      let readings = [before, opened.feedback, closed.feedback].map { $0?.rawValue ?? "?" }
      let seen =
        "feedback before: \(readings[0]), after OPEN pulse: \(readings[1]), after CLOSE pulse: \(readings[2])"
      if !opened.isFault && !closed.isFault {
        results.append(.pass(name, seen))
      } else if before == opened.feedback && opened.feedback == closed.feedback {
        results.append(
          .fail(
            name, seen,
            "the auxiliary contact on GPIO\(wiring.relayFeedback) never changed: the relay does not switch (check the 12 V coil supply and the coil drivers on GPIO\(wiring.openCoil)/GPIO\(wiring.closeCoil)) or the auxiliary contact is not wired to GPIO\(wiring.relayFeedback)"
          ))
      } else if opened.feedback == .closed && closed.feedback == .open {
        results.append(
          .fail(
            name, seen,
            "feedback is the reverse of the command: the OPEN and CLOSE coil wires are swapped, or the auxiliary contact is normally closed"
          ))
      } else if opened.isFault {
        results.append(
          .fail(
            name, seen,
            "the relay closes but does not open: check the OPEN coil driver on GPIO\(wiring.openCoil), its MOSFET and coil wire"
          ))
      } else {
        results.append(
          .fail(
            name, seen,
            "the relay opens but does not close: check the CLOSE coil driver on GPIO\(wiring.closeCoil), its MOSFET and coil wire"
          ))
      }
    } catch let error as RelayError {
      guard case .line(let busError) = error else { return }
      results.append(
        .fail(name, busError.message, lineFault(busError, line: wiring.openCoil, role: "relay")))
    } catch let error as BusError {
      results.append(
        .fail(name, error.message, lineFault(error, line: wiring.openCoil, role: "relay")))
    } catch {
      results.append(.fail(name, "\(error)", "unexpected error"))
    }
  }

  // MARK: Inputs

  mutating func checkInputs() {
    // Levels with the pull-ups of SPEC §2: every input is active low.
    let inputs: [(name: String, line: Int, idle: String, active: String, activeFault: String?)] = [
      (
        "terminal cover", wiring.coverSwitch, "closed", "open (close it before leaving the site)",
        nil
      ),
      (
        "magnetic sensor", wiring.magneticSensor, "no field", "field detected",
        "a magnet near the meter, or the sensor's output shorted to GND"
      ),
      (
        "display button", wiring.button, "released", "pressed",
        "held down during the test, or the button wiring shorted to GND"
      ),
      ("MFRC522 IRQ", wiring.cardReaderIRQ, "idle", "asserted", nil),
    ]
    for input in inputs {
      let name = "\(input.name) GPIO\(input.line)"
      do throws(BusError) {
        let level = try hardware.inputLine(input.line).level()
        let reading = level == .low ? input.active : input.idle
        if level == .low, let fault = input.activeFault {
          results.append(.fail(name, "reads \(reading)", fault))
        } else {
          results.append(.pass(name, "reads \(reading)"))
        }
      } catch {
        results.append(
          .fail(name, error.message, lineFault(error, line: input.line, role: input.name)))
      }
    }
  }
}
