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
/// Key cards (R-C2) go to the core, which journals them into the meter's state: records are
/// verified with the utility key the state holds (the commissioned `utilityKey` until a key
/// card installs a newer one), and write-backs signed with the meter's own key of the version
/// the state names (from `meterKeys`; a rotation card naming a version the meter does not hold
/// is refused as `unknown_key`).
///
/// MIFARE Classic sectors are opened with the key `mifareKeys` gives; the keys are defence in
/// depth only, the signatures are what the meter trusts.
public final class SignedCardPort: CardPort {
  private let reader: any CardReader
  private let meter: MeterID
  /// The utility key the service was configured with (`[keys] utility_public_key` and
  /// `utility_key_version`): trusted only when the state holds none (a journal written before
  /// the commissioned key was kept there).
  private let commissionedUtilityKey: RecordVerifyingKey
  private let meterKeys: MeterKeyring
  private let mifareKeys: MifareKeyProvider
  /// Per-card NTAG passwords; nil: NTAG cards are read and written without one.
  private let ntagPasswords: NTAGPasswordProvider?
  private var present = false
  private var session: Session?

  /// What the meter read from the card in the field, for its write-back.
  private struct Session {
    var identity: CardIdentity
    var layout: CardLayout
    var commitBlocks: [[UInt8]]
    /// The inspector an accepted inspection card names; nil on every other card.
    var inspector: UInt32?
    /// The page of this meter's event log already on an inspection card (R-C1 paging).
    var previousInspection: InspectionData? = nil
  }

  /// Card blocks read and written since the port was made (a figure for the targets).
  public private(set) var blocksRead = 0
  public private(set) var blocksWritten = 0
  public private(set) var inspectionProgress: InspectionProgress?

  public init(
    reader: any CardReader, meter: MeterID, utilityKey: RecordVerifyingKey,
    meterKeys: MeterKeyring,
    mifareKeys: @escaping MifareKeyProvider = { _, _ in .transport },
    ntagPasswords: NTAGPasswordProvider? = nil
  ) {
    self.reader = reader
    self.meter = meter
    commissionedUtilityKey = utilityKey
    self.meterKeys = meterKeys
    self.mifareKeys = mifareKeys
    self.ntagPasswords = ntagPasswords
  }

  /// A meter holding one key of its own.
  public convenience init(
    reader: any CardReader, meter: MeterID, utilityKey: RecordVerifyingKey,
    meterKey: RecordSigningKey,
    mifareKeys: @escaping MifareKeyProvider = { _, _ in .transport },
    ntagPasswords: NTAGPasswordProvider? = nil
  ) {
    self.init(
      reader: reader, meter: meter, utilityKey: utilityKey, meterKeys: MeterKeyring([meterKey]),
      mifareKeys: mifareKeys, ntagPasswords: ntagPasswords)
  }

  /// The utility key `state` trusts: the one a key card installed, else the commissioned one.
  /// nil if the state's key is not an Ed25519 key (never installed so: the card layer decoded
  /// it); the meter then accepts no signed card rather than fall back to an older key.
  func utilityKey(for state: MeterState) -> RecordVerifyingKey? {
    guard let installed = state.keys.utility else { return commissionedUtilityKey }
    return RecordVerifyingKey(installed)
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

  public func read(at now: Timestamp, state: MeterState) throws(RuntimeFault)
    -> CardPresentation
  {
    guard let identity = pendingIdentity else { return .refused(.removedMidRead) }
    guard let utilityKey = utilityKey(for: state) else { return .refused(.unknownKey) }
    let technology: CardTechnology
    switch identity.type {
    case .mifareClassic1K: technology = .mifareClassic1K
    case .ntag215: technology = .ntag215
    default: return .refused(.unknownFormat)
    }
    if technology == .ntag215, let ntagPasswords {
      // The card's own password first (issue #3): a card it does not open is refused before
      // anything is read; it makes the write-back pages writable.
      let (password, acknowledge) = ntagPasswords(identity.uid)
      do throws(CardReaderError) {
        guard try reader.ntagPasswordAuthentication(password) == acknowledge else {
          return .refused(.cardKeys)
        }
      } catch {
        if case .reader(let why) = error { throw .device("card reader: \(why)") }
        return .refused(.removedMidRead)
      }
    }
    let layout = CardLayout.forTechnology(technology)
    // One READ returns 16 bytes: one MIFARE block, or four NTAG pages.
    let unitsPerRead = CardLayout.blockSize / identity.type.blockSize
    var readerFault: RuntimeFault?
    var authenticationFailed = false
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
          if case .authenticationFailed = error { authenticationFailed = true }
          return nil
        }
      }
    } catch {
      if let readerFault { throw readerFault }
      if authenticationFailed { return try refuseFailedAuthentication(of: identity) }
      return .refused(error.refusal)
    }
    switch MeterCardReading.action(
      for: readout, meter: meter, utilityKey: utilityKey, now: now
    ).action {
    case .core(let presentation):
      session = Session(
        identity: identity, layout: layout, commitBlocks: readout.commitBlocks,
        inspector: presentation == .inspection
          ? inspector(of: readout, utilityKey: utilityKey) : nil)
      if presentation == .inspection {
        // The page on the card chooses the next one; a card that stops answering here only
        // gets the newest page.
        session?.previousInspection = layout.readInspectionPage(meter: meter) { address in
          do throws(CardReaderError) {
            let bytes = try reader.readBlocks(address, count: unitsPerRead, keys: mifareKeys)
            blocksRead += 1
            return bytes
          } catch {
            return nil
          }
        }
      }
      return presentation
    case .installUtilityKey(let key):
      session = Session(
        identity: identity, layout: layout, commitBlocks: readout.commitBlocks, inspector: nil)
      return .utilityKey(key.utilityKey)
    case .rotateMeterKey(let version):
      guard meterKeys.key(version: version) != nil else { return .refused(.unknownKey) }
      session = Session(
        identity: identity, layout: layout, commitBlocks: readout.commitBlocks, inspector: nil)
      return .meterKeyVersion(version)
    }
  }

  /// The inspector an accepted inspection card names; its one record was verified by `action`.
  private func inspector(of readout: CardReadout, utilityKey: RecordVerifyingKey) -> UInt32? {
    try? readout.records.first?.verified(as: InspectionRequestRecord.self, by: utilityKey)
      .inspector
  }

  public func write(
    _ writeBack: WriteBack, state: MeterState, outcome: CardOutcome, journal: any JournalPort
  ) throws(RuntimeFault) -> Bool {
    inspectionProgress = nil
    guard let session else { return false }
    // The version the state names: after a rotation card, the new one (R-C2).
    guard let meterKey = meterKeys.key(version: state.keys.meterVersion) else {
      throw .device(
        "the meter's own key version \(state.keys.meterVersion) is not installed (held: \(meterKeys.versions))"
      )
    }
    // A slot that cannot hold every latest event gets the newest ones that fit; the counters
    // are always complete.
    let plan: [CardWrite]
    var progress: InspectionProgress?
    let log = session.inspector == nil ? nil : try journal.loggedEvents()
    do {
      if let inspector = session.inspector, let log {
        let data = Self.inspectionData(writeBack, state: state, inspector: inspector, log: log)
        let olderThan = MeterCardReading.nextInspectionPage(
          previous: session.previousInspection, meter: meter, eventsGone: log.omitted)
        plan = try MeterCardReading.inspectionPlan(
          data, layout: session.layout, meterKey: meterKey, olderThan: olderThan)
        progress = try MeterCardReading.inspectionProgress(
          data, layout: session.layout, olderThan: olderThan)
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
    inspectionProgress = progress
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

  /// A failed MIFARE authentication looks the same on the air whether the keys are wrong or the
  /// card left: the card is activated again, and if the same card answers, its keys do not open
  /// (`card_keys`); otherwise it was removed mid-read. Either way nothing was written.
  private func refuseFailedAuthentication(of identity: CardIdentity) throws(RuntimeFault)
    -> CardPresentation
  {
    do throws(CardReaderError) {
      switch try reader.poll() {
      case .arrived(let again)? where again.uid == identity.uid:
        pendingIdentity = again
        return .refused(.cardKeys)
      case .arrived(let other)?:
        pendingIdentity = other
      case .left?:
        present = false
        pendingIdentity = nil
      case nil:
        break
      }
    } catch {
      if case .reader(let why) = error { throw .device("card reader: \(why)") }
    }
    return .refused(.removedMidRead)
  }

  public func release() throws(RuntimeFault) {
    session = nil
    do throws(CardReaderError) { try reader.release() } catch {
      if case .reader(let why) = error { throw .device("card reader: \(why)") }
    }
  }
}
