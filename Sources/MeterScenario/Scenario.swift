import MeterCore

/// A scenario file (SPEC §9): what happens to the meter, line by line, in virtual time.
public struct Scenario: Hashable, Sendable {
  /// The `start` line's settings, or the defaults when the file has none.
  public var start: ScenarioStart
  /// Every line after `start`, in file (and so time) order.
  public var steps: [ScenarioStep]
  /// When the run ends: the `end` line's time, or the last line's time without one.
  public var end: VirtualTime

  public init(start: ScenarioStart, steps: [ScenarioStep], end: VirtualTime) {
    self.start = start
    self.steps = steps
    self.end = end
  }
}

/// The `start` line: the meter's clock and configuration at `"at":0`.
public struct ScenarioStart: Hashable, Sendable {
  /// The meter's wall-clock time at the start, Unix seconds (UTC).
  public var clockUnixSeconds: Int64
  /// `meterd.toml` keys and values, as written; the meter's configuration validates them.
  public var config: JSONObject
  /// The file line of `config`, for errors the configuration reports later.
  public var configLine: Int
  /// `config.tariff`, the `[tariff]` table of `meterd.toml` (R-P12); nil is SPEC §9's flat
  /// 1.0000 per kWh.
  public var tariff: TariffSet?
  /// The utility key version the meter is commissioned on (meterd's `[keys]
  /// utility_key_version`, R-C2): the simulator's test utility key of that version, journaled
  /// in the first checkpoint, and the simulated office signs with it. nil: version 1, as the
  /// meter was commissioned before the key was journaled.
  public var utilityKeyVersion: UInt8?

  public static let defaults = ScenarioStart(
    clockUnixSeconds: UTCCalendar.unixSeconds(fromRFC3339: UTCCalendar.defaultStart)!,
    config: JSONObject(), configLine: 0)

  public init(
    clockUnixSeconds: Int64, config: JSONObject, configLine: Int, tariff: TariffSet? = nil
  ) {
    self.clockUnixSeconds = clockUnixSeconds
    self.config = config
    self.configLine = configLine
    self.tariff = tariff
  }
}

/// One scenario line: when, what, and where it is in the file.
public struct ScenarioStep: Hashable, Sendable {
  public var line: Int
  public var at: VirtualTime
  public var action: ScenarioAction

  public init(line: Int, at: VirtualTime, action: ScenarioAction) {
    self.line = line
    self.at = at
    self.action = action
  }
}

/// The kinds of virtual card the card reader model carries.
public enum VirtualCardType: String, Hashable, Sendable, CaseIterable {
  case mifareClassic1K = "mifare_classic_1k"
  case ntag215 = "ntag215"
}

/// The electrical load behind the meter, as a `load` line describes it.
///
/// Every quantity is an exact integer in thousandths (mW, mV, thousandths of the power factor),
/// so a scenario means the same thing on every machine.
public struct ScenarioLoad: Hashable, Sendable {
  /// Active power on the phase (channel A), mW; negative is export (reverse power, R-T2).
  public var phaseMilliwatts: Int64
  /// Active power seen in the neutral (channel B), mW; differs from the phase when current
  /// leaks around the meter (neutral imbalance, R-T3).
  public var neutralMilliwatts: Int64
  public var millivolts: Int64
  /// Power factor in thousandths, 1...1000.
  public var powerFactorThousandths: Int64
  /// Line frequency in millihertz.
  public var millihertz: Int64
  /// Wired around the relay, so current flows even while it is open (R-T4).
  public var bypass: Bool

  /// No load: 230 V, 50 Hz, nothing drawn.
  public static let idle = ScenarioLoad(
    phaseMilliwatts: 0, neutralMilliwatts: 0, millivolts: 230_000, powerFactorThousandths: 1_000,
    millihertz: 50_000, bypass: false)

  public init(
    phaseMilliwatts: Int64, neutralMilliwatts: Int64, millivolts: Int64,
    powerFactorThousandths: Int64, millihertz: Int64, bypass: Bool
  ) {
    self.phaseMilliwatts = phaseMilliwatts
    self.neutralMilliwatts = neutralMilliwatts
    self.millivolts = millivolts
    self.powerFactorThousandths = powerFactorThousandths
    self.millihertz = millihertz
    self.bypass = bypass
  }
}

/// What a scenario line makes happen.
public enum ScenarioAction: Hashable, Sendable {
  /// Sell credit onto a virtual card with the built-in test vending key (R-C3: next sequence).
  /// `meter` sells for another meter (a card the meter must refuse, R-C6); `type` is the card
  /// type when the card is new.
  case vend(card: String, amount: Money, meter: MeterID?, type: VirtualCardType?)
  /// Issue a utility staff card (R-C1) signed with the built-in test utility key, valid for one
  /// day from the line's time; `type` is the card type when the card is new.
  case staffCard(card: String, kind: StaffCardKind, type: VirtualCardType?)
  /// The built-in vending replaces lost customer card `lost` by the new card `card`: the
  /// purchases it sold and has seen no write-back for go onto it again (R-C3).
  case replaceCard(lost: String, card: String, type: VirtualCardType?)
  /// Present the card and remove it when the meter is done with it.
  case tap(card: String)
  case present(card: String)
  /// Remove the card, at once or after the reader has transferred `afterBlocks` more blocks.
  case remove(card: String, afterBlocks: Int?)
  case load(ScenarioLoad)
  case powerOff
  case powerOn
  /// Cut power after this many more bytes reach the FRAM (inside a journal write).
  case powerOffAfterFRAMBytes(Int)
  /// A brown-out of the energy IC alone: it resets (registers to defaults, energy lost) while
  /// the meter keeps running; the driver sees the RESET interrupt and configures it again.
  case energyChipReset
  case tamper(cover: TamperCover?, magnet: Bool?)
  case buttonPress
  /// Replace a card's raw memory (forgery tests); creates the card if it does not exist.
  /// `keepKeys`: the image's own sector trailers stay (e.g. the transport key); otherwise the
  /// card is personalised with the test card-key master secret after the image is loaded.
  case cardImage(card: String, bytes: [UInt8], type: VirtualCardType?, keepKeys: Bool)
  case dumpCard(card: String)
  case snapshot
  /// Injects a relay fault, or repairs it (R-T4, R-T5).
  case relayFault(RelayFault)
}

/// What a `relay_fault` line does to the relay model (R-T5).
public enum RelayFault: String, Hashable, Sendable, CaseIterable {
  /// The contact is welded where it is: coil pulses no longer move it.
  case welded
  /// The auxiliary contact's wire is broken: the feedback input reads open (its pull-up)
  /// whatever the contact does.
  case feedbackBroken = "feedback_broken"
  /// Repaired: the contact moves with the coils and the feedback follows it again.
  case none
}

/// What a `staff_card` line issues (R-C1).
public enum StaffCardKind: Hashable, Sendable {
  /// A one-band flat tariff set: the passive set until `activation` (Unix seconds), R-P12.
  case tariff(id: UInt32, pricePerKilowattHour: Money, activation: Int64)
  /// Collects the registers and events onto the card for `vend`.
  case inspection(inspector: UInt32)
  case clearTamper
  /// Opens the relay while the card stays on the reader.
  case relayTest
  /// A key card installing the test utility key of `version` (R-C2), signed with the key the
  /// sales office signs with now; from then on the office signs with the new key and re-signs
  /// what is pending before its next sale.
  case utilityKey(version: UInt8)
  /// A key card telling the meter to sign its write-backs with its own test key of `version`
  /// (R-C2); the office reads write-backs with every version's public key.
  case meterKey(version: UInt8)
}

public enum TamperCover: String, Hashable, Sendable {
  case open, closed
}

/// A refused scenario file: the 1-based line and what is wrong with it.
public struct ScenarioError: Error, Hashable, Sendable, CustomStringConvertible {
  public var line: Int
  public var message: String

  public init(line: Int, message: String) {
    self.line = line
    self.message = message
  }

  public var description: String { "line \(line): \(message)" }
}
