import MeterCards
import MeterCore
import MeterDrivers

/// The card reader together with the card layer (R-C1..R-C6): finds a card through the
/// `CardReader` capability (the MFRC522 driver), reads it with the card layout, decides what it
/// means with `MeterCardReading.action` (every record verified with the utility's public key,
/// a staff card's validity window checked against the step's time), and writes the write-back
/// signed with the meter's own key into the older of the two slots, commit block last, so a torn
/// write leaves the previous write-back valid (R-C5). On an inspection card it writes the
/// inspection record over both slots instead (R-C1).
///
/// A key card is refused as `wrong_card_kind`: installing a utility key must outlive a restart,
/// and the runtime has no durable place for the trusted key yet (the core does not hold it).
///
/// MIFARE Classic sectors are opened with the key `mifareKeys` gives; the keys are defence in
/// depth only, the signatures are what the meter trusts.
public final class SignedCardPort: CardPort {
  private let reader: any CardReader
  private let meter: MeterID
  private let utilityKey: RecordVerifyingKey
  private let meterKey: RecordSigningKey
  private let mifareKeys: MifareKeyProvider
  private var present = false
  private var session: Session?

  /// What the meter read from the card in the field, for its write-back.
  private struct Session {
    var identity: CardIdentity
    var layout: CardLayout
    var commitBlocks: [[UInt8]]
    /// The inspector an accepted inspection card names; nil on every other card.
    var inspector: UInt32?
  }

  /// Card blocks read and written since the port was made (a figure for the targets).
  public private(set) var blocksRead = 0
  public private(set) var blocksWritten = 0

  public init(
    reader: any CardReader, meter: MeterID, utilityKey: RecordVerifyingKey,
    meterKey: RecordSigningKey,
    mifareKeys: @escaping MifareKeyProvider = { _ in .transport }
  ) {
    self.reader = reader
    self.meter = meter
    self.utilityKey = utilityKey
    self.meterKey = meterKey
    self.mifareKeys = mifareKeys
  }

  public func poll() throws(RuntimeFault) -> Bool {
    do throws(CardReaderError) {
      switch try reader.poll() {
      case .arrived(let identity)?:
        present = true
        session = nil
        pendingIdentity = identity
      case .left?:
        present = false
        session = nil
        pendingIdentity = nil
      case nil:
        break
      }
    } catch {
      if case .reader(let why) = error { throw .device("card reader: \(why)") }
      present = false
    }
    return present
  }

  private var pendingIdentity: CardIdentity?

  public func read(at now: Timestamp) throws(RuntimeFault) -> CardPresentation {
    guard let identity = pendingIdentity else { return .refused(.removedMidRead) }
    let technology: CardTechnology
    switch identity.type {
    case .mifareClassic1K: technology = .mifareClassic1K
    case .ntag215: technology = .ntag215
    default: return .refused(.unknownFormat)
    }
    let layout = CardLayout.forTechnology(technology)
    // One READ returns 16 bytes: one MIFARE block, or four NTAG pages.
    let unitsPerRead = CardLayout.blockSize / identity.type.blockSize
    var readerFault: RuntimeFault?
    let readout: CardReadout
    do throws(CardProblem) {
      readout = try layout.readForPresentation { address in
        do throws(CardReaderError) {
          let bytes = try reader.readBlocks(address, count: unitsPerRead, keys: mifareKeys)
          blocksRead += 1
          return bytes
        } catch {
          // A card that stops answering fails its next authentication or read alike: the
          // presentation is refused as removed mid-read (R-C6) and changes nothing.
          if case .reader(let why) = error { readerFault = .device("card reader: \(why)") }
          return nil
        }
      }
    } catch {
      if let readerFault { throw readerFault }
      return .refused(error.refusal)
    }
    switch MeterCardReading.action(
      for: readout, meter: meter, utilityKey: utilityKey, now: now
    ).action {
    case .core(let presentation):
      session = Session(
        identity: identity, layout: layout, commitBlocks: readout.commitBlocks,
        inspector: presentation == .inspection ? inspector(of: readout) : nil)
      return presentation
    case .installUtilityKey:
      return .refused(.wrongCardKind)
    }
  }

  /// The inspector an accepted inspection card names; its one record was verified by `action`.
  private func inspector(of readout: CardReadout) -> UInt32? {
    try? readout.records.first?.verified(as: InspectionRequestRecord.self, by: utilityKey)
      .inspector
  }

  public func write(
    _ writeBack: WriteBack, state: MeterState, outcome: CardOutcome, journal: any JournalPort
  ) throws(RuntimeFault) -> Bool {
    guard let session else { return false }
    // A slot that cannot hold every latest event gets the newest ones that fit; the counters
    // are always complete.
    let plan: [CardWrite]
    let log = session.inspector == nil ? nil : try journal.loggedEvents()
    do {
      if let inspector = session.inspector, let log {
        plan = try MeterCardReading.inspectionPlan(
          Self.inspectionData(writeBack, state: state, inspector: inspector, log: log),
          layout: session.layout, meterKey: meterKey)
      } else {
        plan = try MeterCardReading.writeBackPlan(
          writeBack, layout: session.layout, commitBlocks: session.commitBlocks,
          meterKey: meterKey)
      }
    } catch {
      throw .device("write-back could not be encoded: \(error)")
    }
    for write in plan {
      do throws(CardReaderError) {
        try reader.writeBlocks(write.address, write.data, keys: mifareKeys)
        blocksWritten += 1
      } catch {
        if case .reader(let why) = error { throw .device("card reader: \(why)") }
        return false
      }
    }
    return true
  }

  /// What an inspection card collects (R-C1): the registers, and the event log as the journal
  /// holds it (its ring of lines, read back from the FRAM), not only the core's latest events.
  /// `eventsOmitted` starts at the events the ring no longer holds; the card plan adds those
  /// dropped to fit the card.
  static func inspectionData(
    _ writeBack: WriteBack, state: MeterState, inspector: UInt32, log: LoggedEvents
  ) -> InspectionData {
    var registers = writeBack
    registers.latestEvents = log.events
    return InspectionData(
      inspector: inspector, registers: registers, totalCharged: state.ledger.totalCharged,
      lastPurchaseAmount: state.ledger.lastPurchaseAmount,
      blockPeriodEnergy: state.registers.blockPeriodEnergy,
      passiveTariffID: state.passiveTariff?.id, clockInvalid: state.clockInvalid,
      eventsOmitted: log.omitted)
  }

  public func release() throws(RuntimeFault) {
    session = nil
    do throws(CardReaderError) { try reader.release() } catch {
      if case .reader(let why) = error { throw .device("card reader: \(why)") }
    }
  }
}
